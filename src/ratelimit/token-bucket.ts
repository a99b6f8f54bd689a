/**
 * Token-bucket arithmetic with time passed in, so it is exact under fake time and identical to
 * the Lua the Redis store runs (src/ratelimit/redis-scripts.ts mirrors every function here).
 *
 * A bucket holds up to `capacity` tokens and refills continuously at `refillPerMs`. Token counts
 * are fractional (a 90-per-minute bucket gains 0.0015 per ms) and may be negative: a reservation
 * reconciled with a larger real usage leaves the bucket in debt, and later requests wait until the
 * debt has refilled.
 */

export interface BucketSpec {
  /** Largest number of tokens the bucket holds (the burst). */
  readonly capacity: number;
  /** Tokens regained per millisecond. */
  readonly refillPerMs: number;
}

export interface BucketState {
  /** Tokens available at `updatedAtMs`; negative while in debt. */
  readonly tokens: number;
  readonly updatedAtMs: number;
}

export type TakeOutcome =
  | { readonly ok: true; readonly state: BucketState }
  /** `waitMs` undefined: the request is larger than the bucket and can never pass. */
  | { readonly ok: false; readonly state: BucketState; readonly waitMs: number | undefined };

const MS_PER_MINUTE = 60_000;

/**
 * A bucket from a per-minute rate and an optional burst. Without a burst the capacity is one
 * minute's worth, but never below one, so a rate under one per minute still lets a request through.
 */
export function bucketSpec(ratePerMinute: number, burst: number | undefined): BucketSpec {
  return { capacity: burst ?? Math.max(1, ratePerMinute), refillPerMs: ratePerMinute / MS_PER_MINUTE };
}

/** A bucket nobody has used yet: full. */
export function fullBucket(spec: BucketSpec, nowMs: number): BucketState {
  return { tokens: spec.capacity, updatedAtMs: nowMs };
}

/** The bucket at `nowMs`. A clock that went backwards refills nothing (it never takes tokens away). */
export function refilled(spec: BucketSpec, state: BucketState, nowMs: number): BucketState {
  const elapsedMs = Math.max(0, nowMs - state.updatedAtMs);
  return { tokens: Math.min(spec.capacity, state.tokens + elapsedMs * spec.refillPerMs), updatedAtMs: nowMs };
}

/**
 * Milliseconds until `tokens` can be taken from an already refilled bucket: 0 when they can be
 * taken now, undefined when they never can (more than the capacity).
 */
export function waitMs(spec: BucketSpec, state: BucketState, tokens: number): number | undefined {
  if (tokens > spec.capacity) return undefined;
  if (state.tokens >= tokens) return 0;
  return ceilMs((tokens - state.tokens) / spec.refillPerMs);
}

/** Milliseconds until an already refilled bucket is full again (the OpenAI "reset" header). */
export function msUntilFull(spec: BucketSpec, state: BucketState): number {
  return state.tokens >= spec.capacity ? 0 : ceilMs((spec.capacity - state.tokens) / spec.refillPerMs);
}

/** Refill to `nowMs`, then take `tokens` if they are all there; otherwise take nothing. */
export function take(spec: BucketSpec, state: BucketState, tokens: number, nowMs: number): TakeOutcome {
  const current = refilled(spec, state, nowMs);
  const wait = waitMs(spec, current, tokens);
  if (wait === 0) return { ok: true, state: { tokens: current.tokens - tokens, updatedAtMs: nowMs } };
  return { ok: false, state: current, waitMs: wait };
}

/**
 * Settle a reservation: `extraTokens` = actual − reserved. Negative refunds, capped at the
 * capacity; positive charges the difference even into debt, so the real usage is always paid.
 */
export function reconcile(spec: BucketSpec, state: BucketState, extraTokens: number, nowMs: number): BucketState {
  const current = refilled(spec, state, nowMs);
  return { tokens: Math.min(spec.capacity, current.tokens - extraTokens), updatedAtMs: nowMs };
}

/**
 * Whole milliseconds, rounded up, ignoring float noise below a nanosecond (2000.0000000003 is
 * 2000, not 2001). The Lua scripts use the same rule.
 */
export function ceilMs(ms: number): number {
  return Math.ceil(ms - 1e-6);
}
