import type { BucketFigures, DecisionStore, LimitKind, RateLimitDecision, RateLimitTicket, ScopeKind } from './limiter.js';

/**
 * Which refusal a decision reports when several buckets refuse at once: an exhausted budget first
 * (nothing but time helps), then a request larger than a bucket (nothing helps), then the longest
 * wait (retrying earlier would be refused again). The Lua admit script ranks the same way.
 */
export const Severity = { None: 0, Wait: 1, Never: 2, Budget: 3 } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

export class RefusalTracker {
  severity: Severity = Severity.None;
  limit: LimitKind | undefined;
  scope: ScopeKind | undefined;
  waitMs = 0;

  note(severity: Severity, limit: LimitKind, scope: ScopeKind, waitMs: number): void {
    if (severity > this.severity || (severity === this.severity && waitMs > this.waitMs)) {
      this.severity = severity;
      this.limit = limit;
      this.scope = scope;
      this.waitMs = waitMs;
    }
  }
}

/** Builds the decision from a refusal ranking (Severity.None: admitted). */
export function decide(
  store: DecisionStore,
  severity: Severity,
  limit: LimitKind | undefined,
  scope: ScopeKind | undefined,
  waitMs: number,
  requests: BucketFigures | undefined,
  tokens: BucketFigures | undefined,
  ticket: RateLimitTicket | undefined,
): RateLimitDecision {
  if (severity === Severity.None) {
    return { outcome: 'admitted', allowed: true, limitedBy: undefined, limitedScope: undefined, retryAfterMs: undefined, retryable: true, requests, tokens, store, ticket };
  }
  return {
    outcome: 'limited',
    allowed: false,
    limitedBy: limit,
    limitedScope: scope,
    retryAfterMs: severity === Severity.Never ? undefined : Math.max(1, waitMs),
    retryable: severity === Severity.Wait,
    requests,
    tokens,
    store,
    ticket: undefined,
  };
}

/** The answer while the store is down and the policy is closed (the gateway answers 503). */
export function unavailableDecision(retryAfterMs: number): RateLimitDecision {
  return {
    outcome: 'unavailable',
    allowed: false,
    limitedBy: undefined,
    limitedScope: undefined,
    retryAfterMs,
    retryable: true,
    requests: undefined,
    tokens: undefined,
    store: 'redis',
    ticket: undefined,
  };
}

/** Header figures of a bucket holding `tokens` (negative in debt) that is full again in `resetMs`. */
export function figures(capacity: number, tokens: number, resetMs: number): BucketFigures {
  return { limit: capacity, remaining: Math.max(0, Math.floor(tokens)), resetMs };
}
