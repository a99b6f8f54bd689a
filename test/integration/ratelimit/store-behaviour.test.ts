import { beforeAll, describe, expect, it } from 'vitest';
import type { KeyBudget, KeyLimits } from '../../../src/auth/policy.js';
import { rateLimitConfigSchema, type RateLimitConfigInput } from '../../../src/ratelimit/config.js';
import type { AdmitRequest, RateLimitDecision, RateLimiter } from '../../../src/ratelimit/limiter.js';
import { MemoryRateLimiter } from '../../../src/ratelimit/memory-store.js';
import { RedisRateLimiter } from '../../../src/ratelimit/redis-store.js';
import { redisReady } from '../../../src/redis/client.js';
import { useRedisServer } from '../../helpers/redis-server.js';

/**
 * One table of behaviour, run against the memory store and the Redis store (real redis-server,
 * real Lua), so the two cannot drift apart. Rates are slow (at most a few tokens per second) so
 * the real clock the Redis store runs on moves the figures by less than the assertions' slack.
 */

const redis = useRedisServer();

type StoreFactory = (config?: RateLimitConfigInput) => Promise<RateLimiter>;

let redisStores = 0;
const stores: [string, StoreFactory][] = [
  ['memory store', async (config = {}) => new MemoryRateLimiter({ config: rateLimitConfigSchema.parse(config) })],
  [
    'Redis store',
    async (config = {}) => {
      const client = redis.client();
      await redisReady(client);
      return new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse(config), keyPrefix: `t${++redisStores}:` });
    },
  ],
];

let sequence = 0;
function request(limits: KeyLimits, reservedTokens = 0, extra: Partial<AdmitRequest> & { budget?: KeyBudget } = {}): AdmitRequest {
  return { requestId: `r${sequence++}`, keyId: `key-${sequence}`, tenant: 'default', model: 'm', limits, budget: undefined, reservedTokens, ...extra };
}

function again(previous: AdmitRequest, reservedTokens = previous.reservedTokens): AdmitRequest {
  return { ...previous, requestId: `r${sequence++}`, reservedTokens };
}

const nothing = { tokens: 0, costNanos: 0n };

describe.each(stores)('%s', (_name, makeStore) => {
  let limiter: RateLimiter;
  beforeAll(async () => {
    limiter = await makeStore();
  });

  it('admits a burst of requests, then refuses with the wait for the next token', async () => {
    const first = request({ requestsPerMinute: 6, burstRequests: 3 });
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = await limiter.admit(again(first));
      expect(decision.allowed).toBe(true);
      remaining.push(decision.requests!.remaining);
    }
    expect(remaining).toEqual([2, 1, 0]);
    const refused = await limiter.admit(again(first));
    expect(refused).toMatchObject({ outcome: 'limited', allowed: false, limitedBy: 'requests', limitedScope: 'key', retryable: true, ticket: undefined });
    expect(refused.retryAfterMs).toBeGreaterThan(9_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
    expect(refused.requests).toMatchObject({ limit: 3, remaining: 0 });
    expect(refused.requests!.resetMs).toBeGreaterThan(29_000);
    expect(refused.tokens).toBeUndefined();
  });

  it('is all-or-nothing: a request the token bucket refuses costs no request token', async () => {
    const first = request({ requestsPerMinute: 60, burstRequests: 10, tokensPerMinute: 60, burstTokens: 1000 }, 800);
    const admitted = await limiter.admit(first);
    expect(admitted.allowed).toBe(true);
    expect(admitted.requests!.remaining).toBe(9);
    expect(admitted.tokens!.remaining).toBe(200);
    const refused = await limiter.admit(again(first, 300));
    expect(refused).toMatchObject({ limitedBy: 'tokens', retryable: true });
    expect(refused.retryAfterMs).toBeGreaterThan(95_000); // 100 missing tokens at 1 per second
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100_000);
    expect(refused.requests!.remaining).toBe(9);
    expect(refused.tokens!.remaining).toBe(200);
  });

  it('a request larger than the token bucket can never pass, and says so', async () => {
    const refused = await limiter.admit(request({ tokensPerMinute: 60, burstTokens: 1000 }, 1001));
    expect(refused).toMatchObject({ outcome: 'limited', limitedBy: 'tokens', retryable: false, retryAfterMs: undefined });
    expect(refused.tokens).toMatchObject({ limit: 1000, remaining: 1000, resetMs: 0 });
  });

  it('reconciles a short answer with a refund', async () => {
    const first = request({ tokensPerMinute: 60, burstTokens: 1000 }, 800);
    const admitted = await limiter.admit(first);
    await limiter.settle(admitted.ticket!, { tokens: 100, costNanos: 0n });
    const next = await limiter.admit(again(first, 850));
    expect(next.allowed).toBe(true);
    expect(next.tokens!.remaining).toBeGreaterThanOrEqual(50);
    expect(next.tokens!.remaining).toBeLessThanOrEqual(51);
  });

  it('reconciles a long answer with an extra charge: the bucket goes into debt and the next request waits', async () => {
    const first = request({ tokensPerMinute: 60, burstTokens: 1000 }, 100);
    const admitted = await limiter.admit(first);
    await limiter.settle(admitted.ticket!, { tokens: 1500, costNanos: 0n });
    const refused = await limiter.admit(again(first, 1));
    expect(refused).toMatchObject({ limitedBy: 'tokens', retryable: true });
    expect(refused.tokens!.remaining).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(499_000); // 500 in debt + 1, at 1 per second
    expect(refused.retryAfterMs).toBeLessThanOrEqual(501_000);
    expect(refused.tokens!.resetMs).toBeGreaterThan(1_499_000);
  });

  it('holds concurrency slots until settle, also after an abort, and settles each ticket once only', async () => {
    const first = request({ maxConcurrent: 2 });
    const a = await limiter.admit(first);
    const b = await limiter.admit(again(first));
    expect([a.allowed, b.allowed]).toEqual([true, true]);
    const refused = await limiter.admit(again(first));
    expect(refused).toMatchObject({ limitedBy: 'concurrency', retryable: true, retryAfterMs: 1000 });
    // The client went away: settled with what was used (nothing).
    await limiter.settle(a.ticket!, nothing);
    await limiter.settle(a.ticket!, nothing); // idempotent: must not free b's slot
    const c = await limiter.admit(again(first));
    expect(c.allowed).toBe(true);
    expect((await limiter.admit(again(first))).limitedBy).toBe('concurrency');
    await limiter.settle(b.ticket!, nothing);
    await limiter.settle(c.ticket!, nothing);
    expect((await limiter.admit(again(first))).allowed).toBe(true);
  });

  it('refuses once the daily budget is spent, with no retry until the next UTC day', async () => {
    const first = request({}, 0, { budget: { daily: 0.000002, monthly: 10 } });
    const admitted = await limiter.admit(first);
    expect(admitted.allowed).toBe(true);
    await limiter.settle(admitted.ticket!, { tokens: 0, costNanos: 1500n });
    const stillUnder = await limiter.admit(again(first));
    expect(stillUnder.allowed).toBe(true);
    await limiter.settle(stillUnder.ticket!, { tokens: 0, costNanos: 600n });
    const refused = await limiter.admit(again(first));
    expect(refused).toMatchObject({ outcome: 'limited', limitedBy: 'budget', retryable: false });
    const untilMidnight = 86_400_000 - (Date.now() % 86_400_000);
    expect(Math.abs(refused.retryAfterMs! - untilMidnight)).toBeLessThan(2_000);
  });

  it('refuses once the monthly budget is spent', async () => {
    const first = request({}, 0, { budget: { monthly: 0.000001 } });
    const admitted = await limiter.admit(first);
    await limiter.settle(admitted.ticket!, { tokens: 0, costNanos: 1000n });
    const refused = await limiter.admit(again(first));
    expect(refused).toMatchObject({ limitedBy: 'budget', retryable: false });
    const now = new Date();
    const untilNextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime();
    expect(Math.abs(refused.retryAfterMs! - untilNextMonth)).toBeLessThan(2_000);
  });

  it('a key without limits or budget is admitted without figures', async () => {
    const decision = await limiter.admit(request({}, 5000));
    expect(decision).toMatchObject({ allowed: true, requests: undefined, tokens: undefined });
    await limiter.settle(decision.ticket!, { tokens: 10, costNanos: 5n });
  });

  it('applies tenant limits on top of each key, all-or-nothing', async () => {
    const shared = await makeStore({ tenants: { acme: { requestsPerMinute: 6, burstRequests: 3 } } });
    const ownLimits = { requestsPerMinute: 60, burstRequests: 10 };
    const one = request(ownLimits, 0, { tenant: 'acme' });
    const two = request(ownLimits, 0, { tenant: 'acme' });
    const outcomes = [await shared.admit(again(one)), await shared.admit(again(two)), await shared.admit(again(one))];
    expect(outcomes.map((decision) => decision.allowed)).toEqual([true, true, true]);
    const refused = await shared.admit(again(two));
    expect(refused).toMatchObject({ limitedBy: 'requests', limitedScope: 'tenant' });
    expect(refused.requests!.remaining).toBe(9); // key two used one of 10; the refusal took nothing
    const otherTenant = await shared.admit(request(ownLimits, 0, { tenant: 'globex' }));
    expect(otherTenant.allowed).toBe(true);
  });

  it('applies model limits across keys and tenants', async () => {
    const shared = await makeStore({ models: { big: { maxConcurrent: 1 } } });
    const first = await shared.admit(request({}, 0, { model: 'big' }));
    const second = await shared.admit(request({}, 0, { model: 'big', tenant: 'other' }));
    const small = await shared.admit(request({}, 0, { model: 'small' }));
    expect([first.allowed, second.limitedBy, second.limitedScope, small.allowed]).toEqual([true, 'concurrency', 'model', true]);
    await shared.settle(first.ticket!, nothing);
    expect((await shared.admit(request({}, 0, { model: 'big' }))).allowed).toBe(true);
  });

  it('ranks an exhausted budget above other refusals', async () => {
    const first = request({ requestsPerMinute: 1, burstRequests: 1 }, 0, { budget: { daily: 0.000001 } });
    const admitted = await limiter.admit(first);
    await limiter.settle(admitted.ticket!, { tokens: 0, costNanos: 1000n });
    const refused: RateLimitDecision = await limiter.admit(again(first));
    expect(refused).toMatchObject({ limitedBy: 'budget', retryable: false });
  });
});
