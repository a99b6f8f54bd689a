import pino from 'pino';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { FailoverRateLimiter, type RateLimitStoreObserver } from '../../../src/ratelimit/failover.js';
import type { AdmitRequest } from '../../../src/ratelimit/limiter.js';
import { MemoryRateLimiter } from '../../../src/ratelimit/memory-store.js';
import { RedisRateLimiter } from '../../../src/ratelimit/redis-store.js';
import { redisReady } from '../../../src/redis/client.js';
import { useRedisServer } from '../../helpers/redis-server.js';

/** Redis killed mid-run and restarted on the same port: behaviour per policy, no crash, no stuck slot. */

const redis = useRedisServer();
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(() => {
  process.on('unhandledRejection', recordUnhandled);
  process.on('uncaughtException', recordUnhandled);
});

afterAll(() => {
  process.off('unhandledRejection', recordUnhandled);
  process.off('uncaughtException', recordUnhandled);
});

afterEach(async () => {
  expect(unhandled).toEqual([]);
});

interface Recorded {
  readonly logs: { level: string; message: string }[];
  readonly errors: string[];
  readonly states: string[];
  readonly latencies: number[];
  readonly observer: RateLimitStoreObserver;
}

function recorder(): Recorded {
  const recorded: Recorded = {
    logs: [],
    errors: [],
    states: [],
    latencies: [],
    observer: {
      storeLatency: (_operation, seconds) => recorded.latencies.push(seconds),
      storeError: (operation, reason) => recorded.errors.push(`${operation}:${reason}`),
      storeState: (state) => recorded.states.push(state),
    },
  };
  return recorded;
}

async function limiterFor(onStoreError: 'open' | 'closed', recorded: Recorded): Promise<{ limiter: FailoverRateLimiter; client: Redis }> {
  const client = redis.client({ reconnectMaxDelayMs: 100, commandTimeoutMs: 300 });
  await redisReady(client);
  const config = rateLimitConfigSchema.parse({ onStoreError, concurrencyLeaseMs: 60_000 });
  const limiter = new FailoverRateLimiter({
    primary: new RedisRateLimiter({ client, config, keyPrefix: `${onStoreError}:`, observer: recorded.observer }),
    fallback: new MemoryRateLimiter({ config, store: 'local' }),
    onStoreError,
    unavailableRetryAfterMs: config.unavailableRetryAfterMs,
    concurrencyLeaseMs: config.concurrencyLeaseMs,
    log: {
      warn: (_details, message) => recorded.logs.push({ level: 'warn', message }),
      info: (_details, message) => recorded.logs.push({ level: 'info', message }),
    },
    observer: recorded.observer,
    internalErrors: new InternalErrors(pino({ level: 'silent' })),
  });
  return { limiter, client };
}

let sequence = 0;
function request(keyId: string, limits: AdmitRequest['limits']): AdmitRequest {
  return { requestId: `r${sequence++}`, keyId, tenant: 'default', model: 'm', limits, budget: undefined, reservedTokens: 0 };
}

describe('Redis killed mid-run and restarted', () => {
  it('fails open: decides with local buckets while Redis is down, logs the switch once, returns to Redis after restart', async () => {
    const recorded = recorder();
    const { limiter, client } = await limiterFor('open', recorded);
    const limits = { requestsPerMinute: 6, burstRequests: 5, maxConcurrent: 10 };
    const before = await limiter.admit(request('open-key', limits));
    expect(before).toMatchObject({ allowed: true, store: 'redis' });
    expect(before.requests!.remaining).toBe(4);

    await redis.server().kill();
    const during = [];
    for (let i = 0; i < 8; i++) during.push(await limiter.admit(request('open-key', limits)));
    expect(during.every((decision) => decision.store === 'local')).toBe(true);
    // The local bucket of this instance starts full: 5 admitted, then refused like any bucket.
    expect(during.map((decision) => decision.allowed)).toEqual([true, true, true, true, true, false, false, false]);
    expect(during[5]!.limitedBy).toBe('requests');
    expect(limiter.degraded).toBe(true);
    // A ticket Redis admitted cannot be settled now: no throw, counted, its lease will expire.
    await expect(limiter.settle(before.ticket!, { tokens: 0, costNanos: 0n })).resolves.toBeUndefined();
    // Local tickets settle locally.
    await limiter.settle(during[0]!.ticket!, { tokens: 0, costNanos: 0n });

    await redis.server().restart();
    await redisReady(client);
    const after = await limiter.admit(request('open-key', limits));
    expect(after).toMatchObject({ allowed: true, store: 'redis' });
    expect(after.requests!.remaining).toBe(4); // the restarted Redis is empty: a full bucket
    expect(limiter.degraded).toBe(false);

    expect(recorded.logs.map((line) => line.level)).toEqual(['warn', 'info']);
    expect(recorded.states).toEqual(['degraded', 'healthy']);
    expect(recorded.errors.filter((error) => error.startsWith('admit:')).length).toBe(8);
    expect(recorded.errors.filter((error) => error.startsWith('settle:')).length).toBe(1);
    expect(recorded.latencies.length).toBeGreaterThanOrEqual(2);
  });

  it('fails closed: answers unavailable while Redis is down, and recovers on its own', async () => {
    const recorded = recorder();
    const { limiter, client } = await limiterFor('closed', recorded);
    const limits = { maxConcurrent: 1 };
    const held = await limiter.admit(request('closed-key', limits));
    expect(held).toMatchObject({ allowed: true, store: 'redis' });

    await redis.server().kill();
    for (let i = 0; i < 5; i++) {
      const decision = await limiter.admit(request('closed-key', limits));
      expect(decision).toMatchObject({ outcome: 'unavailable', allowed: false, retryable: true, retryAfterMs: 1000, ticket: undefined });
    }
    await limiter.settle(held.ticket!, { tokens: 0, costNanos: 0n });

    await redis.server().restart();
    await redisReady(client);
    const recoveredDecision = await limiter.admit(request('closed-key', limits));
    expect(recoveredDecision).toMatchObject({ allowed: true, store: 'redis' });
    // No stuck slot: the slot taken before the outage is gone, the new one releases normally.
    await limiter.settle(recoveredDecision.ticket!, { tokens: 0, costNanos: 0n });
    expect((await limiter.admit(request('closed-key', limits))).allowed).toBe(true);
    expect(recorded.logs.map((line) => line.level)).toEqual(['warn', 'info']);
  });

  it('settles a ticket against Redis across a brief outage without losing the slot forever', async () => {
    const recorded = recorder();
    const { limiter, client } = await limiterFor('open', recorded);
    const limits = { maxConcurrent: 1 };
    const held = await limiter.admit(request('brief-key', limits));
    expect(held.store).toBe('redis');
    // The settle happens while Redis is reachable again (it flapped in between): the slot is released.
    client.disconnect(true);
    await redisReady(client);
    await limiter.settle(held.ticket!, { tokens: 0, costNanos: 0n });
    expect((await limiter.admit(request('brief-key', limits))).allowed).toBe(true);
  });
});
