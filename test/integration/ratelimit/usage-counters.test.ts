import { describe, expect, it } from 'vitest';
import type { KeyBudget, KeyLimits } from '../../../src/auth/policy.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import type { AdmitRequest, RateLimiter, SettleUsage } from '../../../src/ratelimit/limiter.js';
import { MemoryRateLimiter } from '../../../src/ratelimit/memory-store.js';
import { readRedisUsage, RedisRateLimiter } from '../../../src/ratelimit/redis-store.js';
import { periodEndMs, USAGE_RETENTION_MS, usagePeriodsAt, type KeyUsage, type UsageReader } from '../../../src/ratelimit/usage-counters.js';
import { redisReady } from '../../../src/redis/client.js';
import { useRedisServer } from '../../helpers/redis-server.js';

/**
 * Usage counters for every key, counted at settlement by both stores (the memory store's steps
 * and the settle script's Lua against a real redis-server), read back per day and month.
 */

const redis = useRedisServer();

type Store = RateLimiter & UsageReader;
let prefixes = 0;
const stores: [string, () => Promise<Store>][] = [
  ['memory store', async () => new MemoryRateLimiter({ config: rateLimitConfigSchema.parse({}) })],
  [
    'Redis store',
    async () => {
      const client = redis.client();
      await redisReady(client);
      return new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse({}), keyPrefix: `u${++prefixes}:` });
    },
  ],
];

let sequence = 0;
function request(keyId: string, tenant: string, limits: KeyLimits = {}, budget?: KeyBudget): AdmitRequest {
  return { requestId: `r${sequence++}`, keyId, tenant, model: 'm', limits, budget, reservedTokens: 10 };
}

async function served(store: Store, admit: AdmitRequest, usage: SettleUsage): Promise<void> {
  const decision = await store.admit(admit);
  expect(decision.allowed).toBe(true);
  await store.settle(decision.ticket!, usage);
  // Settling twice changes nothing.
  await store.settle(decision.ticket!, usage);
}

function byKey(rows: readonly KeyUsage[] | undefined): Record<string, Omit<KeyUsage, 'keyId'>> {
  return Object.fromEntries((rows ?? []).map(({ keyId, ...rest }) => [keyId, rest]));
}

describe.each(stores)('%s', (_name, makeStore) => {
  it('counts requests, tokens by kind and cost of every key, with or without limits and budgets, per day and month', async () => {
    const store = await makeStore();
    const tokens = (input: number, cachedInput: number, output: number) => ({ tokens: input + output, tokenCounts: { input, cachedInput, output } });
    await served(store, request('plain', 'acme'), { ...tokens(100, 40, 7), costNanos: 1_500n });
    await served(store, request('plain', 'acme'), { ...tokens(20, 0, 3), costNanos: 500n });
    await served(store, request('limited', 'acme', { requestsPerMinute: 600, maxConcurrent: 4 }), { ...tokens(5, 5, 5), costNanos: 0n });
    await served(store, request('budgeted', 'globex', {}, { daily: 10 }), { ...tokens(1, 0, 1), costNanos: 9_000_000_123n });
    // A request that failed before any usage is still a request; an estimate's fraction is rounded to whole tokens.
    await served(store, request('budgeted', 'globex', {}, { daily: 10 }), { tokens: 0, costNanos: 0n });
    await served(store, request('budgeted', 'globex', {}, { daily: 10 }), { tokens: 0.6, costNanos: 0n, tokenCounts: { input: 0.6, cachedInput: 0, output: 0 } });

    const expected = {
      plain: { tenant: 'acme', requests: 2, inputTokens: 120, cachedInputTokens: 40, outputTokens: 10, costNanos: 2_000n },
      limited: { tenant: 'acme', requests: 1, inputTokens: 5, cachedInputTokens: 5, outputTokens: 5, costNanos: 0n },
      budgeted: { tenant: 'globex', requests: 3, inputTokens: 2, cachedInputTokens: 0, outputTokens: 1, costNanos: 9_000_000_123n },
    };
    const now = usagePeriodsAt(Date.now());
    expect(byKey(await store.readUsage(now.day))).toEqual(expected);
    expect(byKey(await store.readUsage(now.month))).toEqual(expected);
    expect(await store.readUsage({ kind: 'day', index: now.day.index - 1 })).toEqual([]);
    expect(await store.readUsage({ kind: 'month', index: now.month.index + 1 })).toEqual([]);
  });

  it('counts a key under the tenant of its latest request', async () => {
    const store = await makeStore();
    await served(store, request('moved', 'before'), { tokens: 1, costNanos: 1n, tokenCounts: { input: 1, cachedInput: 0, output: 0 } });
    await served(store, request('moved', 'after'), { tokens: 1, costNanos: 1n, tokenCounts: { input: 1, cachedInput: 0, output: 0 } });
    expect(byKey(await store.readUsage(usagePeriodsAt(Date.now()).day)).moved).toMatchObject({ tenant: 'after', requests: 2, inputTokens: 2 });
  });
});

describe('the Redis store', () => {
  it('adds usage within the settle script (one call per settlement), expiring each period its retention after it ends', async () => {
    const client = redis.client();
    const admin = redis.client();
    await Promise.all([redisReady(client), redisReady(admin)]);
    const calls: string[] = [];
    const store = new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse({}), keyPrefix: 'usage-ttl:', observer: { storeLatency: (operation) => calls.push(operation) } });
    await served(store, request('k:1', 't'), { tokens: 3, costNanos: 42n, tokenCounts: { input: 2, cachedInput: 1, output: 1 } });
    // No limits: admission needs no call, the settlement exactly one.
    expect(calls).toEqual(['settle']);

    const now = Date.now();
    const periods = usagePeriodsAt(now);
    const dayKey = `usage-ttl:{rl:k:k:1}:usage:k:1:d${periods.day.index}`;
    const monthKey = `usage-ttl:{rl:k:k:1}:usage:k:1:m${periods.month.index}`;
    expect(await admin.hgetall(dayKey)).toEqual({ k: 'k:1', t: 't', r: '1', i: '2', c: '1', o: '1', n: '42' });
    for (const [key, period] of [
      [dayKey, periods.day],
      [monthKey, periods.month],
    ] as const) {
      const expectedTtl = periodEndMs(period) - now + USAGE_RETENTION_MS[period.kind];
      const ttl = await admin.pttl(key);
      expect(ttl).toBeGreaterThan(expectedTtl - 60_000);
      expect(ttl).toBeLessThanOrEqual(expectedTtl + 1_000);
    }
  });

  it('reads only its own prefix, with glob characters in the prefix taken literally', async () => {
    const client = redis.client();
    await redisReady(client);
    const config = rateLimitConfigSchema.parse({});
    const starred = new RedisRateLimiter({ client, config, keyPrefix: 'a*:' });
    const other = new RedisRateLimiter({ client, config, keyPrefix: 'ab:' });
    await served(starred, request('mine', 't'), { tokens: 0, costNanos: 1n });
    await served(other, request('theirs', 't'), { tokens: 0, costNanos: 1n });
    const day = usagePeriodsAt(Date.now()).day;
    expect((await readRedisUsage(client, 'a*:', day)).map((row) => row.keyId)).toEqual(['mine']);
    expect((await readRedisUsage(client, 'ab:', day)).map((row) => row.keyId)).toEqual(['theirs']);
  });
});

describe('the memory store', () => {
  it('keeps a day for its retention after it ends, then sweeps it', async () => {
    let nowMs = Date.UTC(2026, 5, 10, 12);
    const store = new MemoryRateLimiter({ config: rateLimitConfigSchema.parse({}), now: () => nowMs });
    await served(store, request('k', 't'), { tokens: 0, costNanos: 5n });
    const { day, month } = usagePeriodsAt(nowMs);
    expect(store.usageEntries).toBe(2);
    nowMs = periodEndMs(day) + USAGE_RETENTION_MS.day - 1;
    expect(await store.readUsage(day)).toHaveLength(1);
    nowMs += 1;
    expect(await store.readUsage(day)).toEqual([]);
    await store.admit(request('other', 't'));
    expect(store.usageEntries).toBe(1);
    nowMs = periodEndMs(month) + USAGE_RETENTION_MS.month;
    await store.admit(request('other', 't'));
    expect(store.usageEntries).toBe(0);
  });
});
