import { describe, expect, it } from 'vitest';
import { unavailableDecision } from '../../../src/ratelimit/decision.js';
import { formatResetDuration, rateLimitHeaders } from '../../../src/ratelimit/headers.js';
import type { RateLimitDecision } from '../../../src/ratelimit/limiter.js';

function decision(overrides: Partial<RateLimitDecision>): RateLimitDecision {
  return {
    outcome: 'admitted',
    allowed: true,
    limitedBy: undefined,
    limitedScope: undefined,
    retryAfterMs: undefined,
    retryable: true,
    requests: undefined,
    tokens: undefined,
    store: 'memory',
    ticket: undefined,
    ...overrides,
  };
}

describe('reset durations written the way OpenAI writes them', () => {
  it.each([
    [0, '0s'],
    [0.2, '1ms'],
    [12, '12ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [8640, '8.64s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [86_400, '1m26.4s'],
    [3_723_000, '1h2m3s'],
    [3_600_000, '1h0m0s'],
    [90_061_001, '25h1m1.001s'],
  ])('%d ms → %s', (ms, written) => {
    expect(formatResetDuration(ms)).toBe(written);
  });
});

describe('rate limit response headers', () => {
  it('describes only the buckets the key has', () => {
    const headers = rateLimitHeaders(decision({ requests: { limit: 60, remaining: 59, resetMs: 1000 } }));
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
    });
    expect(rateLimitHeaders(decision({}))).toEqual({});
  });

  it('a refusal adds retry-after in whole seconds rounded up, and the exact milliseconds', () => {
    const headers = rateLimitHeaders(
      decision({
        outcome: 'limited',
        allowed: false,
        limitedBy: 'tokens',
        retryAfterMs: 1234,
        requests: { limit: 10, remaining: 9, resetMs: 6000 },
        tokens: { limit: 1000, remaining: 12, resetMs: 359_000 },
      }),
    );
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '9',
      'x-ratelimit-reset-requests': '6s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '12',
      'x-ratelimit-reset-tokens': '5m59s',
      'retry-after': '2',
      'retry-after-ms': '1234',
    });
  });

  it('an exhausted budget says a retry cannot help, but still when the budget resets', () => {
    const headers = rateLimitHeaders(decision({ outcome: 'limited', allowed: false, limitedBy: 'budget', retryAfterMs: 3_600_000, retryable: false }));
    expect(headers).toEqual({ 'retry-after': '3600', 'retry-after-ms': '3600000', 'x-should-retry': 'false' });
  });

  it('a request larger than the bucket gets no retry-after at all', () => {
    const headers = rateLimitHeaders(
      decision({ outcome: 'limited', allowed: false, limitedBy: 'tokens', retryable: false, tokens: { limit: 100, remaining: 100, resetMs: 0 } }),
    );
    expect(headers).toEqual({
      'x-ratelimit-limit-tokens': '100',
      'x-ratelimit-remaining-tokens': '100',
      'x-ratelimit-reset-tokens': '0s',
      'x-should-retry': 'false',
    });
  });

  it('an unavailable store (fail closed) asks for a retry after the hint', () => {
    expect(rateLimitHeaders(unavailableDecision(1000))).toEqual({ 'retry-after': '1', 'retry-after-ms': '1000' });
  });

  it('admitted requests carry no retry headers', () => {
    const headers = rateLimitHeaders(decision({ retryAfterMs: 500 }));
    expect(headers['retry-after']).toBeUndefined();
  });
});
