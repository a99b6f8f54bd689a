import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import type { KeyLimits } from '../../../src/auth/policy.js';
import { RedisKeyStore } from '../../../src/auth/redis-key-store.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { sampleSum } from '../../helpers/promtool.js';
import { startGatewayProcess, type GatewayProcess } from '../../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

const MODEL = 'test-model';
const teardown = teardownAfterEach();
let redis: RedisServer;
let simulator: RunningSimulator;

beforeAll(async () => {
  redis = await startRedisServer();
  // Ten completion tokens per request, no delays: the gateways' limits are the only brake.
  simulator = await startSimulator({ seed: 3, models: [MODEL], outputTokens: { min: 10, max: 10 }, prefillBaseMs: 0, interTokenMs: 0 });
});
afterAll(async () => {
  await simulator?.close();
  await redis?.stop();
});

function keyWith(id: string, limits: KeyLimits) {
  const secret = generateApiKey();
  return { secret, stored: { id, tenant: 'acme', limits, hash: hashApiKey(secret) } };
}

function sharedConfig(overrides: Partial<TollboothConfigInput>): TollboothConfigInput {
  return {
    replicas: [{ name: 'sim', url: simulator.url, models: [MODEL] }],
    rateLimits: { store: 'redis' },
    // Each test gets its own key space, so runs never share buckets.
    redis: { url: redis.url, keyPrefix: `t${Date.now().toString(36)}:` },
    ...overrides,
  };
}

const chat = { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hello there' }] };

/**
 * Clients far faster than the limit, spread over every gateway, for `durationMs`. Returns the
 * admitted responses' usage; requests sent after the deadline are not made.
 */
async function hammer(gateways: readonly string[], secret: string, loopsPerGateway: number, durationMs: number) {
  const startedAt = Date.now();
  const deadline = startedAt + durationMs;
  let admitted = 0;
  let admittedTokens = 0;
  let limited = 0;
  const failures: string[] = [];
  const loop = async (url: string): Promise<void> => {
    while (Date.now() < deadline) {
      let answer: Awaited<ReturnType<typeof postJson>>;
      try {
        answer = await postJson(`${url}/v1/chat/completions`, chat, { authorization: `Bearer ${secret}` });
      } catch (error) {
        // Recorded, not thrown: the assertion then names every failure, not only the first.
        failures.push(`${url}: ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}`);
        continue;
      }
      if (answer.status === 200) {
        admitted += 1;
        admittedTokens += (JSON.parse(answer.text) as { usage: { total_tokens: number } }).usage.total_tokens;
      } else if (answer.status === 429) {
        limited += 1;
        // Far above the limit already; pausing keeps two shared cores for the gateways.
        await new Promise((wake) => setTimeout(wake, 15));
      } else {
        failures.push(`${answer.status} ${answer.text}`);
      }
    }
  };
  await Promise.all(gateways.flatMap((url) => Array.from({ length: loopsPerGateway }, () => loop(url))));
  return { admitted, admittedTokens, limited, failures, elapsedMs: deadline - startedAt };
}

describe('one limit shared by three gateway processes through Redis', () => {
  let gateways: GatewayProcess[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
  });

  async function threeGateways(key: ReturnType<typeof keyWith>): Promise<string[]> {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    const warmUp = keyWith('warm-up', {});
    const config = sharedConfig({ auth: { keys: [key.stored, warmUp.stored] } });
    const started = await Promise.allSettled([0, 1, 2].map(() => startGatewayProcess(config)));
    gateways = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    // A gateway that failed to start must not leave its two siblings running: afterAll stops `gateways`.
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const urls = gateways.map((gateway) => gateway.url);
    // Fresh processes answer their first requests slowly (connections, JIT); the limit's clock
    // starts at the key's first request, so the measured run must not begin with that delay.
    await hammer(urls, warmUp.secret, 4, 500);
    return urls;
  }

  it('admits requests within ±2% of burst + rate × elapsed', async () => {
    const key = keyWith('shared-rpm', { requestsPerMinute: 3_000, burstRequests: 50 });
    const urls = await threeGateways(key);
    const run = await hammer(urls, key.secret, 4, 6_000);
    const expected = 50 + (3_000 / 60_000) * run.elapsedMs;
    expect(run.failures).toEqual([]);
    expect(run.limited).toBeGreaterThan(run.admitted);
    expect(Math.abs(run.admitted - expected) / expected).toBeLessThanOrEqual(0.02);
  });

  it('admits tokens (reserved before, reconciled after) within ±2% of burst + rate × elapsed', async () => {
    const key = keyWith('shared-tpm', { tokensPerMinute: 60_000, burstTokens: 1_000 });
    const urls = await threeGateways(key);
    const run = await hammer(urls, key.secret, 4, 6_000);
    const expected = 1_000 + (60_000 / 60_000) * run.elapsedMs;
    expect(run.failures).toEqual([]);
    expect(run.limited).toBeGreaterThan(0);
    expect(Math.abs(run.admittedTokens - expected) / expected).toBeLessThanOrEqual(0.02);
  });

  it('keeps serving through a Redis kill and restart under load: no crash, no 5xx (fail open), no lease left', async () => {
    const key = keyWith('shared-fault', { requestsPerMinute: 600_000, maxConcurrent: 6 });
    const urls = await threeGateways(key);
    const load = hammer(urls, key.secret, 4, 5_000);
    try {
      await new Promise((wake) => setTimeout(wake, 1_200));
      await redis.kill();
      await new Promise((wake) => setTimeout(wake, 1_200));
    } finally {
      await redis.restart();
    }
    const run = await load;
    // Every failure (a 5xx, a dropped connection) is listed; 429 is the concurrency limit at work.
    expect(run.failures).toEqual([]);
    expect(run.admitted).toBeGreaterThan(0);
    const auth = { authorization: `Bearer ${key.secret}` };
    for (const url of urls) expect((await postJson(`${url}/v1/chat/completions`, chat, auth)).status).toBe(200);

    // Once every response is settled, no concurrency lease is left in Redis.
    const admin = new Redis(redis.url);
    try {
      const leases = async (): Promise<number> => {
        const sets = await admin.keys('*{rl:k:shared-fault}:key:shared-fault:cc');
        const sizes = await Promise.all(sets.map((set) => admin.zcard(set)));
        return sizes.reduce((sum, size) => sum + size, 0);
      };
      await waitFor(async () => (await leases()) === 0);
      // The pattern names this key's Redis keys: its request bucket is there (an empty lease set is deleted).
      expect(await admin.keys('*{rl:k:shared-fault}:key:shared-fault:rq')).toHaveLength(1);
    } finally {
      await admin.quit();
    }
  });
});

describe('Redis outages at the gateway', () => {
  /** One in-process gateway with the key and its limits in Redis under the given failure policy. */
  async function gatewayOnRedis(key: ReturnType<typeof keyWith>, onStoreError: 'open' | 'closed') {
    const gateway = await startTestGateway(sharedConfig({ auth: { keys: [key.stored] }, rateLimits: { store: 'redis', onStoreError } }));
    teardown.defer(() => gateway.close());
    return { gateway, auth: { authorization: `Bearer ${key.secret}` }, url: `${gateway.url}/v1/chat/completions` };
  }

  it('fails open: keeps serving with local buckets while Redis is down, and frees no slot twice', async () => {
    const { gateway, auth, url } = await gatewayOnRedis(keyWith('open', { requestsPerMinute: 6_000, maxConcurrent: 2 }), 'open');
    expect((await postJson(url, chat, auth)).status).toBe(200);
    const healthy = await metricsOf(gateway.adminUrl!);
    expect(degradedGauge(healthy)).toBe(0);
    const admitCalls = sampleSum(healthy, 'tollbooth_rate_limit_store_seconds_count', { operation: 'admit' });
    expect(admitCalls).toBeGreaterThanOrEqual(1);
    await redis.kill();
    try {
      for (let index = 0; index < 5; index += 1) expect((await postJson(url, chat, auth)).status).toBe(200);
      const outage = await metricsOf(gateway.adminUrl!);
      expect(degradedGauge(outage)).toBe(1);
      // Five admissions made without Redis (failed or not attempted), none timed as a store call.
      expect(sampleSum(outage, 'tollbooth_rate_limit_store_errors_total', { operation: 'admit' })).toBe(5);
      expect(sampleSum(outage, 'tollbooth_rate_limit_store_seconds_count', { operation: 'admit' })).toBe(admitCalls);
    } finally {
      await redis.restart();
    }
    // Back on Redis (a fresh, empty one): both concurrency slots are free, a third is refused.
    await waitFor(async () => (await postJson(url, chat, auth)).headers.get('x-ratelimit-remaining-requests') !== null && decidesOnRedisAgain(gateway.logs));
    const recovered = await metricsOf(gateway.adminUrl!);
    expect(degradedGauge(recovered)).toBe(0);
    expect(sampleSum(recovered, 'tollbooth_rate_limit_store_seconds_count', { operation: 'admit' })).toBeGreaterThan(admitCalls);
    const slowChat = { ...chat, max_tokens: 10 };
    const slow = { ...auth, 'x-sim-fault': 'spike:400' };
    const running = [postJson(url, slowChat, slow), postJson(url, slowChat, slow)];
    await new Promise((wake) => setTimeout(wake, 150));
    expect((await postJson(url, chat, auth)).status).toBe(429);
    expect((await Promise.all(running)).map((answer) => answer.status)).toEqual([200, 200]);
    expect((await postJson(url, chat, auth)).status).toBe(200);
    const switches = gateway.logs.filter((line) => line.component === 'ratelimit' && line.level === 'warn');
    expect(switches.length).toBe(1);
  });

  it('fails closed: 503 with Retry-After while Redis is down, then serves again on its own', async () => {
    const { auth, url } = await gatewayOnRedis(keyWith('closed', { requestsPerMinute: 6_000 }), 'closed');
    expect((await postJson(url, chat, auth)).status).toBe(200);
    await redis.kill();
    try {
      const refused = await postJson(url, chat, auth);
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.text).error.code).toBe('rate_limit_store_unavailable');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await redis.restart();
    }
    await waitFor(async () => (await postJson(url, chat, auth)).status === 200);
  });
});

describe('keys in the Redis store', () => {
  it('a revoked key is refused by every gateway within a second', async () => {
    const config = sharedConfig({ auth: { store: 'redis' } });
    const gateways = await Promise.all([0, 1, 2].map(() => startTestGateway(config)));
    for (const gateway of gateways) teardown.defer(() => gateway.close());
    const admin = new Redis(redis.url);
    teardown.defer(() => admin.quit());
    const store = new RedisKeyStore(admin, (config.redis as { keyPrefix: string }).keyPrefix);
    const secret = generateApiKey();
    await store.create({ id: 'short-lived', tenant: 'acme', models: ['*'], limits: {}, hash: hashApiKey(secret) });
    const statusOf = async (url: string) => (await postJson(`${url}/v1/chat/completions`, chat, { authorization: `Bearer ${secret}` })).status;
    await waitFor(async () => (await Promise.all(gateways.map((gateway) => statusOf(gateway.url)))).every((status) => status === 200));

    const revokedAt = Date.now();
    expect(await store.revoke('short-lived')).toBe(1);
    const seenAt = await Promise.all(
      gateways.map(async (gateway) => {
        await waitFor(async () => (await statusOf(gateway.url)) === 401);
        return Date.now() - revokedAt;
      }),
    );
    expect(Math.max(...seenAt)).toBeLessThan(1_000);
  });
});

async function metricsOf(adminUrl: string): Promise<string> {
  return (await fetch(`${adminUrl}/metrics`)).text();
}

/** The unlabelled gauge: 1 while the rate-limit store is unusable. */
function degradedGauge(exposition: string): number | undefined {
  const match = /^tollbooth_rate_limit_store_degraded (\S+)$/m.exec(exposition);
  return match === null ? undefined : Number(match[1]);
}

function decidesOnRedisAgain(logs: ReadonlyArray<Record<string, unknown>>): boolean {
  return logs.some((line) => line.component === 'ratelimit' && typeof line.msg === 'string' && /available again/.test(line.msg));
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((wake) => setTimeout(wake, 20));
  }
}
