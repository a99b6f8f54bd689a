import { describe, expect, it } from 'vitest';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { reservedTokensFor } from '../../../src/ratelimit/reservation.js';
import type { AdmitRequest } from '../../../src/ratelimit/limiter.js';
import { MemoryRateLimiter } from '../../../src/ratelimit/memory-store.js';

function clock(startMs: number): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let now = startMs;
  return { now: () => now, advance: (ms) => (now += ms), set: (ms) => (now = ms) };
}

let sequence = 0;
function request(overrides: Partial<AdmitRequest>): AdmitRequest {
  return { requestId: `r${sequence++}`, keyId: 'k', tenant: 'default', model: 'm', limits: {}, budget: undefined, reservedTokens: 0, ...overrides };
}

describe('memory store with an injected clock', () => {
  it("reads the budget counters of the current day and month only (what the forecasts read)", async () => {
    const time = clock(Date.UTC(2026, 0, 31, 23, 0, 0));
    const limiter = new MemoryRateLimiter({ config: rateLimitConfigSchema.parse({}), now: time.now });
    const budget = { daily: 1 };
    const decision = await limiter.admit(request({ keyId: 'k', budget }));
    await limiter.settle(decision.ticket!, { tokens: 0, costNanos: 700n });
    const keys = [{ keyId: 'k', tenant: 'default', budget }, { keyId: 'idle', tenant: 'default', budget }];
    expect(await limiter.readBudgetSpend(keys)).toEqual({ atMs: time.now(), store: 'memory', spends: new Map([['k', { daySpentNanos: 700n, monthSpentNanos: 700n }]]) });
    time.advance(3_600_000); // 2026-02-01 00:00: a new day and month, before any new charge
    expect((await limiter.readBudgetSpend(keys)).spends.get('k')).toEqual({ daySpentNanos: 0n, monthSpentNanos: 0n });
  });

  it('budgets roll over at UTC midnight (day) and on the first of the month (month)', async () => {
    const time = clock(Date.UTC(2026, 0, 31, 23, 59, 0));
    const limiter = new MemoryRateLimiter({ config: rateLimitConfigSchema.parse({}), now: time.now });
    const budget = { daily: 0.000001, monthly: 0.000003 };
    const spend = async (): Promise<void> => {
      const decision = await limiter.admit(request({ budget }));
      expect(decision.allowed).toBe(true);
      await limiter.settle(decision.ticket!, { tokens: 0, costNanos: 1000n });
    };
    await spend();
    const refusedToday = await limiter.admit(request({ budget }));
    expect(refusedToday).toMatchObject({ limitedBy: 'budget', retryable: false, retryAfterMs: 60_000 });

    time.advance(60_000); // 2026-02-01 00:00: a new day and a new month
    await spend();
    time.advance(86_400_000);
    await spend();
    time.advance(86_400_000);
    await spend(); // third unit of February's monthly budget
    time.advance(86_400_000);
    const refusedThisMonth = await limiter.admit(request({ budget }));
    expect(refusedThisMonth.limitedBy).toBe('budget');
    expect(refusedThisMonth.retryAfterMs).toBe(Date.UTC(2026, 2, 1) - time.now());

    time.set(Date.UTC(2026, 2, 1));
    expect((await limiter.admit(request({ budget }))).allowed).toBe(true);
  });

  it('a lease of a request that never settles expires after the lease time', async () => {
    const time = clock(1_000_000);
    const limiter = new MemoryRateLimiter({ config: rateLimitConfigSchema.parse({ concurrencyLeaseMs: 30_000 }), now: time.now });
    const limits = { maxConcurrent: 1 };
    expect((await limiter.admit(request({ limits }))).allowed).toBe(true); // never settled: its instance "crashed"
    time.advance(29_999);
    expect((await limiter.admit(request({ limits }))).limitedBy).toBe('concurrency');
    time.advance(1);
    expect((await limiter.admit(request({ limits }))).allowed).toBe(true);
  });

  it('forgets idle keys: full buckets, empty lease sets and past months are swept', async () => {
    const time = clock(Date.UTC(2026, 5, 10));
    const limiter = new MemoryRateLimiter({ config: rateLimitConfigSchema.parse({}), now: time.now });
    for (let i = 0; i < 100; i++) {
      const decision = await limiter.admit(
        request({ keyId: `k${i}`, limits: { requestsPerMinute: 60, tokensPerMinute: 6000, maxConcurrent: 5 }, budget: { monthly: 1 }, reservedTokens: 50 }),
      );
      await limiter.settle(decision.ticket!, { tokens: 20, costNanos: 7n });
    }
    expect(limiter.size).toBe(400); // per key: request bucket, token bucket, lease set, budget counters
    time.advance(61_000);
    await limiter.admit(request({ keyId: 'other' }));
    expect(limiter.size).toBe(100); // budgets of this month stay
    time.set(Date.UTC(2026, 6, 1, 0, 2));
    await limiter.admit(request({ keyId: 'other' }));
    expect(limiter.size).toBe(0);
  });

  it('settle after the bucket was swept reconciles against a full bucket', async () => {
    const time = clock(0);
    const limiter = new MemoryRateLimiter({ config: rateLimitConfigSchema.parse({}), now: time.now });
    const limits = { tokensPerMinute: 600, burstTokens: 100 };
    const long = await limiter.admit(request({ limits, reservedTokens: 50 }));
    time.advance(120_000); // a two-minute stream; the bucket refilled and was swept meanwhile
    await limiter.admit(request({ keyId: 'other' }));
    await limiter.settle(long.ticket!, { tokens: 150, costNanos: 0n });
    const next = await limiter.admit(request({ limits, reservedTokens: 0 }));
    expect(next.tokens).toMatchObject({ limit: 100, remaining: 0, resetMs: 10_000 });
  });
});

describe('rate limit configuration', () => {
  it('defaults to the memory store, failing open, with every field filled', () => {
    expect(rateLimitConfigSchema.parse({})).toEqual({
      store: 'memory',
      onStoreError: 'open',
      defaultMaxTokens: 1024,
      concurrencyLeaseMs: 600_000,
      concurrencyRetryAfterMs: 1000,
      unavailableRetryAfterMs: 1000,
      budgetReport: { refreshIntervalMs: 30_000, rateWindowMs: 3_600_000 },
      tenants: {},
      models: {},
    });
  });

  it('rejects unknown fields and bad shared limits with a path', () => {
    const result = rateLimitConfigSchema.safeParse({ store: 'etcd', tenants: { acme: { requestsPerMinute: -1 } }, burst: 3 });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['store', 'tenants.acme.requestsPerMinute', '']));
  });

  it('reserves the prompt estimate plus max_tokens, or the default without max_tokens', () => {
    const config = rateLimitConfigSchema.parse({ defaultMaxTokens: 256 });
    expect(reservedTokensFor(100.2, 50, config)).toBe(151);
    expect(reservedTokensFor(100, undefined, config)).toBe(356);
  });
});
