import { describe, expect, it } from 'vitest';
import { bucketSpec, fullBucket, msUntilFull, reconcile, refilled, take, waitMs } from '../../../src/ratelimit/token-bucket.js';

describe('token bucket math (fake time)', () => {
  const spec = bucketSpec(60, 10); // 1 token per second, 10 at most

  it('converts a per-minute rate to per-millisecond refill; capacity is the burst or one minute', () => {
    expect(spec).toEqual({ capacity: 10, refillPerMs: 0.001 });
    expect(bucketSpec(90, undefined)).toEqual({ capacity: 90, refillPerMs: 0.0015 });
    expect(bucketSpec(0.5, undefined).capacity).toBe(1); // a rate under 1/min still admits one request
  });

  it('takes tokens while there are enough, then says how long to wait', () => {
    let state = fullBucket(spec, 0);
    for (let i = 0; i < 10; i++) {
      const outcome = take(spec, state, 1, 0);
      expect(outcome.ok).toBe(true);
      state = outcome.state;
    }
    const refused = take(spec, state, 1, 0);
    expect(refused).toEqual({ ok: false, state: { tokens: 0, updatedAtMs: 0 }, waitMs: 1000 });
    expect(take(spec, state, 1, 999).ok).toBe(false);
    expect(take(spec, state, 1, 1000).ok).toBe(true);
  });

  it('refills fractionally and all-or-nothing: 2.5 tokens cannot pay for 3', () => {
    const state = { tokens: 0, updatedAtMs: 0 };
    expect(refilled(spec, state, 2500).tokens).toBeCloseTo(2.5, 12);
    const refused = take(spec, state, 3, 2500);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.state.tokens).toBeCloseTo(2.5, 12); // nothing taken
      expect(refused.waitMs).toBe(500);
    }
    const later = take(spec, state, 3, 3000);
    expect(later.ok && later.state.tokens).toBeCloseTo(0, 12);
  });

  it('never refills beyond capacity, however long the bucket sat idle', () => {
    const state = { tokens: 3, updatedAtMs: 0 };
    expect(refilled(spec, state, 365 * 86_400_000).tokens).toBe(10);
    expect(msUntilFull(spec, refilled(spec, state, 1000))).toBe(6000);
    expect(msUntilFull(spec, fullBucket(spec, 0))).toBe(0);
  });

  it('a request larger than the capacity can never pass: the wait is undefined, not a number', () => {
    const state = fullBucket(spec, 0);
    expect(waitMs(spec, state, 11)).toBeUndefined();
    const refused = take(spec, state, 11, 1_000_000);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.waitMs).toBeUndefined();
    expect(take(spec, state, 10, 0).ok).toBe(true); // exactly the capacity passes
  });

  it('reconciles a refund, capped at the capacity', () => {
    const afterTake = { tokens: 2, updatedAtMs: 0 };
    expect(reconcile(spec, afterTake, -5, 0).tokens).toBe(7);
    expect(reconcile(spec, afterTake, -50, 0).tokens).toBe(10);
  });

  it('reconciles an extra charge into debt, and later requests wait the debt off', () => {
    const afterTake = { tokens: 1, updatedAtMs: 0 };
    const inDebt = reconcile(spec, afterTake, 4, 0);
    expect(inDebt.tokens).toBe(-3);
    const refused = take(spec, inDebt, 1, 0);
    expect(refused.ok === false && refused.waitMs).toBe(4000);
    expect(take(spec, inDebt, 1, 3999).ok).toBe(false);
    expect(take(spec, inDebt, 1, 4000).ok).toBe(true);
    expect(msUntilFull(spec, inDebt)).toBe(13_000);
  });

  it('a clock that steps backwards refills nothing and takes nothing away', () => {
    const state = { tokens: 4, updatedAtMs: 10_000 };
    expect(refilled(spec, state, 9_000).tokens).toBe(4);
  });

  it('rounds waits up to whole milliseconds without float noise adding one', () => {
    const odd = bucketSpec(7, 3); // 7/60000 per ms: waits are not whole numbers
    const empty = { tokens: 0, updatedAtMs: 0 };
    const wait = waitMs(odd, empty, 1)!;
    expect(wait).toBe(Math.ceil(60_000 / 7));
    expect(take(odd, empty, 1, wait).ok).toBe(true);
    expect(take(odd, empty, 1, wait - 1).ok).toBe(false);
    expect(waitMs(spec, { tokens: 0.7, updatedAtMs: 0 }, 1)).toBe(300); // 0.3 / 0.001 is 299.99999999999994 in floats
  });
});
