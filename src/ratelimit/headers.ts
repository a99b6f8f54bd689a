import type { BucketFigures, RateLimitDecision } from './limiter.js';

/** "0s", "1ms" … "999ms", made once: a busy key's buckets refill within a second, on every request. */
const SUB_SECOND_RESETS: readonly string[] = Array.from({ length: 1000 }, (_, ms) => (ms === 0 ? '0s' : `${ms}ms`));

/**
 * A duration the way OpenAI writes x-ratelimit-reset-* (Go's Duration format at millisecond
 * precision): "0s", "12ms", "1s", "1.5s", "6m0s", "1h2m3s".
 */
export function formatResetDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return SUB_SECOND_RESETS[total]!;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const seconds = `${Math.floor(millis / 1000)}${millis % 1000 === 0 ? '' : `.${String(millis % 1000).padStart(3, '0').replace(/0+$/, '')}`}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/**
 * The response headers a decision calls for: the x-ratelimit-* figures of the key's own buckets
 * (only those the key has), and on refusal retry-after (whole seconds, rounded up), retry-after-ms
 * and x-should-retry: false when waiting cannot help. The official SDKs read exactly these.
 */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = {};
  if (decision.requests !== undefined) addBucket(headers, 'requests', decision.requests);
  if (decision.tokens !== undefined) addBucket(headers, 'tokens', decision.tokens);
  if (!decision.allowed) {
    if (decision.retryAfterMs !== undefined) {
      const ms = Math.max(1, Math.ceil(decision.retryAfterMs));
      headers['retry-after'] = String(Math.ceil(ms / 1000));
      headers['retry-after-ms'] = String(ms);
    }
    if (!decision.retryable) headers['x-should-retry'] = 'false';
  }
  return headers;
}

/** The header names of each bucket, as constants: names built per request cost a string each, every time. */
const BUCKET_HEADERS = {
  requests: { limit: 'x-ratelimit-limit-requests', remaining: 'x-ratelimit-remaining-requests', reset: 'x-ratelimit-reset-requests' },
  tokens: { limit: 'x-ratelimit-limit-tokens', remaining: 'x-ratelimit-remaining-tokens', reset: 'x-ratelimit-reset-tokens' },
} as const;

function addBucket(headers: Record<string, string>, name: 'requests' | 'tokens', figures: BucketFigures): void {
  const names = BUCKET_HEADERS[name];
  headers[names.limit] = String(figures.limit);
  headers[names.remaining] = String(figures.remaining);
  headers[names.reset] = formatResetDuration(figures.resetMs);
}
