import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetPeriods } from '../../../src/ratelimit/budget-periods.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import type { AdmitRequest } from '../../../src/ratelimit/limiter.js';
import { PERIODS_PROBE_LUA } from '../../../src/ratelimit/redis-scripts.js';
import { RedisRateLimiter } from '../../../src/ratelimit/redis-store.js';
import { usagePeriodsAt } from '../../../src/ratelimit/usage-counters.js';
import { closeRedisClient, createRedisClient, redisReady } from '../../../src/redis/client.js';
import { redisConfigSchema } from '../../../src/redis/config.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { seededRandom } from '../../helpers/seeded-random.js';

let server: RedisServer;
let client: Redis;
const extraClients: Redis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  client = createRedisClient(redisConfigSchema.parse({ url: server.url }));
  await redisReady(client);
});

afterAll(async () => {
  await Promise.all([client, ...extraClients].map((each) => closeRedisClient(each)));
  await server.stop();
});

function request(overrides: Partial<AdmitRequest>): AdmitRequest {
  return { requestId: 'r', keyId: 'k', tenant: 'default', model: 'm', limits: {}, budget: undefined, reservedTokens: 0, ...overrides };
}

describe('the Redis store Lua, on a real redis-server', () => {
  it('computes the same budget periods as budgetPeriods() (the tested pure function)', async () => {
    const random = seededRandom(11);
    const samples = [Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), Date.UTC(2026, 11, 31, 23, 59, 59, 999.5), Date.UTC(2027, 0, 1)];
    for (let i = 0; i < 300; i++) samples.push(random() * Date.UTC(2200, 0, 1));
    const pipeline = client.pipeline();
    for (const nowMs of samples) pipeline.eval(PERIODS_PROBE_LUA, 0, String(nowMs));
    const replies = (await pipeline.exec())!;
    replies.forEach(([error, reply], index) => {
      expect(error).toBeNull();
      const [day, month, dayEnd, monthEnd] = reply as [number, number, string, string];
      const expected = budgetPeriods(samples[index]!);
      expect({ day, month, dayEnd: Number(dayEnd), monthEnd: Number(monthEnd) }).toEqual({
        day: expected.day,
        month: expected.month,
        dayEnd: expected.dayEndsAtMs,
        monthEnd: expected.monthEndsAtMs,
      });
    });
  });

  it('puts every key of one call under one hash tag, and every key has a TTL', async () => {
    const limiter = new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse({}), keyPrefix: 'ttl:' });
    const decision = await limiter.admit(
      request({ keyId: 'ttl-key', limits: { requestsPerMinute: 60, tokensPerMinute: 600, maxConcurrent: 3 }, budget: { daily: 1 }, reservedTokens: 20 }),
    );
    await limiter.settle(decision.ticket!, { tokens: 30, costNanos: 123n });
    const keys = await client.keys('ttl:*');
    const { day, month } = usagePeriodsAt(Date.now());
    expect(keys.sort()).toEqual(
      [
        'ttl:{rl:k:ttl-key}:budget:ttl-key',
        'ttl:{rl:k:ttl-key}:key:ttl-key:rq',
        'ttl:{rl:k:ttl-key}:key:ttl-key:tk',
        `ttl:{rl:k:ttl-key}:usage:ttl-key:d${day.index}`,
        `ttl:{rl:k:ttl-key}:usage:ttl-key:m${month.index}`,
      ].sort(),
    );
    for (const key of keys) expect(await client.pttl(key)).toBeGreaterThan(0);
    // The lease set was emptied by settle, so Redis removed it; a held lease has a TTL too.
    await limiter.admit(request({ keyId: 'ttl-key', limits: { maxConcurrent: 3 } }));
    expect(await client.pttl('ttl:{rl:k:ttl-key}:key:ttl-key:cc')).toBeGreaterThan(0);
    expect(await client.hget('ttl:{rl:k:ttl-key}:budget:ttl-key', 'ds')).toBe('123');
  });

  it('groups keys by tenant when tenant limits exist, and globally when model limits exist', async () => {
    const byTenant = new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse({ tenants: { acme: { maxConcurrent: 5 } } }), keyPrefix: 'tag1:' });
    await byTenant.admit(request({ keyId: 'k1', tenant: 'acme', limits: { maxConcurrent: 2 } }));
    expect((await client.keys('tag1:*')).sort()).toEqual(['tag1:{rl:t:acme}:key:k1:cc', 'tag1:{rl:t:acme}:tenant:acme:cc']);
    const global = new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse({ models: { 'org/model{x}': { maxConcurrent: 5 } } }), keyPrefix: 'tag2:' });
    await global.admit(request({ keyId: 'k1', model: 'org/model{x}', limits: { maxConcurrent: 2 } }));
    expect((await client.keys('tag2:*')).sort()).toEqual(['tag2:{rl}:key:k1:cc', 'tag2:{rl}:model:org/model{x}:cc']);
  });

  it('a lease held by an instance that died expires, so its slot comes back', async () => {
    const config = rateLimitConfigSchema.parse({ concurrencyLeaseMs: 300 });
    const doomed = createRedisClient(redisConfigSchema.parse({ url: server.url }));
    extraClients.push(doomed);
    const dying = new RedisRateLimiter({ client: doomed, config, keyPrefix: 'lease:' });
    const surviving = new RedisRateLimiter({ client, config, keyPrefix: 'lease:' });
    const limits = { maxConcurrent: 1 };
    await redisReady(doomed);
    expect((await dying.admit(request({ limits }))).allowed).toBe(true);
    doomed.disconnect(); // the instance is gone and will never settle
    expect((await surviving.admit(request({ limits }))).limitedBy).toBe('concurrency');
    await new Promise((wake) => setTimeout(wake, 350));
    const after = await surviving.admit(request({ limits }));
    expect(after.allowed).toBe(true);
    await surviving.settle(after.ticket!, { tokens: 0, costNanos: 0n });
    expect(await client.exists('lease:{rl:k:k}:key:k:cc')).toBe(0);
  });

  it('keeps budget counters as exact 64-bit integers of nano-units', async () => {
    const limiter = new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse({}), keyPrefix: 'exact:' });
    const budget = { monthly: 5_000_000 };
    for (const cost of [4_999_999_999_999_999n, 1n]) {
      const decision = await limiter.admit(request({ budget }));
      expect(decision.allowed).toBe(true);
      await limiter.settle(decision.ticket!, { tokens: 0, costNanos: cost });
    }
    expect(await client.hget('exact:{rl:k:k}:budget:k', 'ms')).toBe('5000000000000000');
    expect((await limiter.admit(request({ budget }))).limitedBy).toBe('budget');
  });
});
