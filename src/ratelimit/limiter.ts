import type { KeyBudget, KeyLimits } from '../auth/policy.js';
import type { TokenCounts } from '../cost/cost.js';
import type { BucketSpec } from './token-bucket.js';

/** The limit that refused a request. */
export type LimitKind = 'requests' | 'tokens' | 'concurrency' | 'budget';
/** Whose limit it was: the key's own, its tenant's (shared), or the model's (shared). */
export type ScopeKind = 'key' | 'tenant' | 'model';
/** Where a decision was made: memory store, Redis store, or local buckets while Redis is down (fail open). */
export type DecisionStore = 'memory' | 'redis' | 'local';

export interface AdmitRequest {
  /** Gateway request id: logged with the decision; leases get ids of their own (client ids may repeat). */
  readonly requestId: string;
  readonly keyId: string;
  readonly tenant: string;
  /** The model as the client named it (selects the per-model limits of the config, if any). */
  readonly model: string;
  readonly limits: KeyLimits;
  readonly budget: KeyBudget | undefined;
  /** Prompt estimate + max_tokens (or the configured default): see reservation.ts. */
  readonly reservedTokens: number;
}

/** What OpenAI's x-ratelimit-{limit,remaining,reset}-* headers show for one of the key's buckets. */
export interface BucketFigures {
  /** Bucket capacity (the burst). */
  readonly limit: number;
  /** Whole tokens left after this decision (0 while in debt). */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
}

export interface RateLimitDecision {
  readonly outcome: 'admitted' | 'limited' | 'unavailable';
  /** outcome === 'admitted'. */
  readonly allowed: boolean;
  readonly limitedBy: LimitKind | undefined;
  readonly limitedScope: ScopeKind | undefined;
  /**
   * When a retry may pass: the wait for the refusing bucket(s), the start of the next budget
   * period, a hint for concurrency and unavailability; undefined when admitted or when the request
   * is larger than a bucket's capacity (it can never pass).
   */
  readonly retryAfterMs: number | undefined;
  /** False when waiting cannot help: budget exhausted, or a request larger than the bucket. */
  readonly retryable: boolean;
  /** The key's own request bucket (undefined when the key has no request limit, or unavailable). */
  readonly requests: BucketFigures | undefined;
  /** The key's own token bucket (undefined when the key has no token limit, or unavailable). */
  readonly tokens: BucketFigures | undefined;
  readonly store: DecisionStore;
  /** Present exactly when admitted: hand it to settle() once the response has ended, however it ended. */
  readonly ticket: RateLimitTicket | undefined;
}

/** The real usage of an admitted request, known when its response ended (0 and 0n when it failed early). */
export interface SettleUsage {
  /** Prompt + completion tokens actually used. */
  readonly tokens: number;
  /** Its cost in nano-units (src/cost/cost.ts); charged to the key's day and month budget. */
  readonly costNanos: bigint;
  /** The tokens by kind, for the key's usage counters (usage-counters.ts); absent: counted as 0. */
  readonly tokenCounts?: TokenCounts | undefined;
}

export interface RateLimiter {
  /** Decides atomically across every bucket involved; never rejects (the Redis store alone may, see FailoverRateLimiter). */
  admit(request: AdmitRequest): Promise<RateLimitDecision>;
  /**
   * Reconciles reserved with used tokens, releases the concurrency slot, charges the budget and
   * counts the key's usage (every key, budgeted or not). Idempotent: a second call with the same ticket does nothing.
   */
  settle(ticket: RateLimitTicket, usage: SettleUsage): Promise<void>;
  close(): Promise<void>;
}

/** One scope's limits, as buckets. */
export interface LimitScope {
  readonly kind: ScopeKind;
  readonly name: string;
  readonly requests: BucketSpec | undefined;
  readonly tokens: BucketSpec | undefined;
  readonly maxConcurrent: number | undefined;
}

/**
 * Proof of admission. Carries what settle needs (the buckets' specs as they were at admission,
 * so a config reload in between cannot mis-reconcile) and a lease id unique to this admission.
 */
export class RateLimitTicket {
  #settled = false;

  constructor(
    readonly leaseId: string,
    readonly requestId: string,
    readonly store: DecisionStore,
    readonly keyId: string,
    readonly reservedTokens: number,
    readonly scopes: readonly LimitScope[],
    /** The key has a budget: settle charges its spend. */
    readonly budgeted: boolean,
    /** Redis hash tag the ticket's keys live under (Redis store only). */
    readonly hashTag: string,
    /** The key's tenant at admission: its usage is counted under it. */
    readonly tenant: string,
  ) {}

  get settled(): boolean {
    return this.#settled;
  }

  /** True the first time only: the caller then does the settling. */
  claimSettlement(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    return true;
  }
}

/** Creates lease ids unique across instances (random instance part + counter) without a syscall per id. */
export function leaseIdGenerator(): () => string {
  const instance = Math.floor(Math.random() * 2 ** 48).toString(36);
  let counter = 0;
  return () => `${instance}.${(counter++).toString(36)}`;
}
