import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPACITY_FACTOR, chooseReplica, leastLoaded, loadLimit, loadOf, type Candidate, type RoutingOutcome } from '../../../src/routing/balancer.js';
import { HashRing } from '../../../src/routing/hash-ring.js';
import type { SessionKey } from '../../../src/routing/session-key.js';
import { stableHash32 } from '../../../src/routing/stable-hash.js';
import { seededRandom, zipfSampler } from './routing-test-helpers.js';

const NAMES = ['replica-a', 'replica-b', 'replica-c', 'replica-d', 'replica-e'];

function key(id: string): SessionKey {
  return { hash: stableHash32(id), source: 'header', conversationId: id };
}

function idle(names: readonly string[]): Candidate[] {
  return names.map((name) => ({ name, inFlight: 0, waiting: 0 }));
}

/** `random` for tests that must not draw: a key never needs randomness. */
function noRandom(): number {
  throw new Error('random() called');
}

/** A `random` that returns the given values in turn. */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[i++]!;
}

describe('chooseReplica with a session key', () => {
  it('sends each key to its ring owner while loads are even, the same in every process', () => {
    const ring = new HashRing(NAMES);
    const otherProcessRing = new HashRing(NAMES);
    const candidates = idle(NAMES);
    for (let i = 0; i < 10_000; i++) {
      const k = key(`conversation-${i}`);
      const decision = chooseReplica(candidates, ring, k, DEFAULT_CAPACITY_FACTOR, noRandom);
      expect(decision).toEqual({ index: ring.owner(k.hash), outcome: 'affinity' });
      expect(chooseReplica(candidates, ring, k, DEFAULT_CAPACITY_FACTOR, noRandom)).toBe(decision);
      expect(chooseReplica(idle(NAMES), otherProcessRing, k, DEFAULT_CAPACITY_FACTOR, noRandom)).toEqual(decision);
    }
  });

  it('overflows to the next member of the key’s walk once the owner reaches ceil(c × (total + 1) / n)', () => {
    const ring = new HashRing(NAMES);
    const k = key('hot-conversation');
    const walk = [...ring.walk(k.hash)].map((name) => ring.indexOf(name));
    const owner = walk[0]!;
    const loads = (owned: number, second = 0) =>
      NAMES.map((name, i) => ({ name, inFlight: i === owner ? owned : i === walk[1] ? second : 2, waiting: 0 }));
    // Others carry 2 each (8); owner at 7: total 15, limit ceil(1.25 × 16 / 5) = 4 → overflow.
    expect(loadLimit(15, 5, 1.25)).toBe(4);
    expect(chooseReplica(loads(7), ring, k, 1.25, noRandom)).toEqual({ index: walk[1], outcome: 'overflow' });
    // Owner at 3: after taking it, 4 ≤ ceil(1.25 × 12 / 5) = 3? No: limit is 3, so it overflows too.
    expect(chooseReplica(loads(3), ring, k, 1.25, noRandom)).toEqual({ index: walk[1], outcome: 'overflow' });
    // Owner at 2 like everyone: 3 ≤ ceil(1.25 × 11 / 5) = 3 → affinity.
    expect(chooseReplica(loads(2), ring, k, 1.25, noRandom)).toEqual({ index: owner, outcome: 'affinity' });
    // The owner and the second are both full: the third in the walk, not the least loaded overall.
    expect(chooseReplica(loads(7, 7), ring, k, 1.25, noRandom)).toEqual({ index: walk[2], outcome: 'overflow' });
    // A larger c lets the owner keep it.
    expect(chooseReplica(loads(7), ring, k, 3, noRandom)).toEqual({ index: owner, outcome: 'affinity' });
  });

  it('counts the engine queue (waiting) as load, for the replica and for the total', () => {
    const ring = new HashRing(NAMES);
    const k = key('queued');
    const walk = [...ring.walk(k.hash)].map((name) => ring.indexOf(name));
    const candidates = NAMES.map((name, i) => ({ name, inFlight: 1, waiting: i === walk[0] ? 6 : 0 }));
    expect(loadOf(candidates[walk[0]!]!)).toBe(7);
    expect(chooseReplica(candidates, ring, k, 1.25, noRandom)).toEqual({ index: walk[1], outcome: 'overflow' });
    // Unknown or nonsense stats count as nothing rather than poisoning the bound.
    expect(loadOf({ name: 'x', inFlight: 2, waiting: Number.NaN })).toBe(2);
    expect(loadOf({ name: 'x', inFlight: -1, waiting: 3 })).toBe(3);
  });

  it('always finds room (c ≥ 1): whatever the loads, the chosen replica ends within the bound', () => {
    const random = seededRandom(5);
    const ring = new HashRing(NAMES);
    for (let trial = 0; trial < 5000; trial++) {
      const candidates = NAMES.map((name) => ({ name, inFlight: Math.floor(random() * 40), waiting: random() < 0.3 ? Math.floor(random() * 10) : 0 }));
      const c = 1 + random();
      const total = candidates.reduce((sum, candidate) => sum + loadOf(candidate), 0);
      const decision = chooseReplica(candidates, ring, key(`k${trial}`), c, noRandom);
      expect(loadOf(candidates[decision.index]!) + 1).toBeLessThanOrEqual(loadLimit(total, NAMES.length, c));
    }
  });

  it('with one candidate, it is the affinity choice', () => {
    expect(chooseReplica(idle(['solo']), new HashRing(['solo']), key('x'), 1.25, noRandom)).toEqual({ index: 0, outcome: 'affinity' });
  });

  it('refuses a ring that is not built over the candidates, and a capacity factor below 1', () => {
    const candidates = idle(NAMES);
    expect(() => chooseReplica(candidates, new HashRing(NAMES.slice(1)), key('x'), 1.25, noRandom)).toThrow(/not built over the candidates/);
    expect(() => chooseReplica(candidates, new HashRing([...NAMES].reverse()), key('x'), 1.25, noRandom)).toThrow(/in their order/);
    expect(() => chooseReplica(candidates, new HashRing(NAMES), key('x'), 0.9, noRandom)).toThrow(RangeError);
    expect(() => chooseReplica(candidates, new HashRing(NAMES), key('x'), Number.NaN, noRandom)).toThrow(RangeError);
    expect(() => chooseReplica([], new HashRing([]), key('x'), 1.25, noRandom)).toThrow(RangeError);
  });
});

describe('bounded load under Zipf-skewed sessions', () => {
  /**
   * 1,000 sessions with Zipf(1.1) popularity (the top one sends about 18% of requests), 20,000
   * requests at a fixed concurrency of 64, exponential service times, simulated time.
   */
  function simulate(replicas: number, capacityFactor: number, seed: number, referenceFactor = capacityFactor) {
    const names = Array.from({ length: replicas }, (_, i) => `vllm-${i}`);
    const ring = new HashRing(names);
    const candidates = names.map((name) => ({ name, inFlight: 0, waiting: 0 }));
    const random = seededRandom(seed);
    const zipf = zipfSampler(1000, 1.1, random);
    const sessionKeys = Array.from({ length: 1000 }, (_, i) => key(`session-${i}`));
    // Overflow follows the key's walk, so a session's overflow keeps meeting the same second replica.
    const secondChoice = sessionKeys.map((k) => ring.indexOf([...ring.walk(k.hash)][1]!));
    let onFirstTwo = 0;
    const inFlight: Array<{ end: number; replica: number }> = [];
    const counts: Record<RoutingOutcome, number> = { affinity: 0, overflow: 0, no_key: 0, least_loaded: 0 };
    let now = 0;
    let worstOverBound = -Infinity; // max over decisions of (max replica load − ceil(reference c × average))
    let violations = 0;
    for (let request = 0; request < 20_000; request++) {
      if (inFlight.length === 64) {
        let earliest = 0;
        for (let i = 1; i < inFlight.length; i++) if (inFlight[i]!.end < inFlight[earliest]!.end) earliest = i;
        const done = inFlight[earliest]!;
        now = done.end;
        candidates[done.replica]!.inFlight--;
        inFlight[earliest] = inFlight[inFlight.length - 1]!;
        inFlight.pop();
      }
      const session = zipf.sample();
      const decision = chooseReplica(candidates, ring, sessionKeys[session]!, capacityFactor, noRandom);
      counts[decision.outcome]++;
      if (decision.outcome === 'affinity' || decision.index === secondChoice[session]) onFirstTwo++;
      candidates[decision.index]!.inFlight++;
      inFlight.push({ end: now - Math.log(1 - random()), replica: decision.index });

      const total = inFlight.length;
      if (candidates[decision.index]!.inFlight > Math.ceil((capacityFactor * total) / replicas - 1e-9)) violations++;
      const maxLoad = Math.max(...candidates.map((candidate) => candidate.inFlight));
      worstOverBound = Math.max(worstOverBound, maxLoad - Math.ceil((referenceFactor * total) / replicas - 1e-9));
    }
    return { affinity: counts.affinity / 20_000, overflow: counts.overflow / 20_000, onFirstTwo: onFirstTwo / 20_000, violations, worstOverBound, topShare: zipf.share(0) };
  }

  it('keeps every replica within ceil(c × average) + 1 at every decision, with most requests on their own replica', () => {
    // Affinity floors, a few points under what seeds 1–8 measure (5 replicas: 74–76%, 8: 67–68%).
    // With 8 replicas the top session alone (18% of traffic, ~11.5 of the 64 in flight) is more
    // than one replica may carry (ceil(1.25 × 64 / 8) = 10), so part of it must overflow.
    const floors: Record<number, number> = { 5: 0.7, 8: 0.62 };
    for (const replicas of [5, 8]) {
      const result = simulate(replicas, 1.25, 42 + replicas);
      console.info(
        `bounded load, ${replicas} replicas, c = 1.25, Zipf(1.1) over 1000 sessions (top session ${(result.topShare * 100).toFixed(1)}%), 64 in flight: ` +
          `affinity ${(result.affinity * 100).toFixed(1)}% (on the first two of the walk ${(result.onFirstTwo * 100).toFixed(1)}%), overflow ${(result.overflow * 100).toFixed(1)}%, worst max load − ceil(c × avg) = ${result.worstOverBound}`,
      );
      expect(result.violations).toBe(0); // the replica that takes a request never exceeds ceil(c × average)
      expect(result.worstOverBound).toBeLessThanOrEqual(1);
      expect(result.affinity).toBeGreaterThan(floors[replicas]!);
      expect(result.onFirstTwo).toBeGreaterThan(0.9);
    }
  });

  it('is what keeps the hot session from piling up: without the bound its replica would run far past the average', () => {
    const bounded = simulate(5, 1.25, 3);
    const unbounded = simulate(5, 1e9, 3, 1.25);
    expect(unbounded.affinity).toBe(1);
    expect(unbounded.worstOverBound).toBeGreaterThan(10);
    expect(bounded.worstOverBound).toBeLessThanOrEqual(1);
  });
});

describe('power of two choices (no key, and the least-loaded strategy)', () => {
  const fleet = (loads: Array<[number, number]>) => loads.map(([inFlight, waiting], i) => ({ name: `r${i}`, inFlight, waiting }));

  it('picks the lower-loaded of the two drawn', () => {
    const candidates = fleet([[5, 0], [1, 0], [9, 0], [0, 0]]);
    const ring = new HashRing(candidates.map((candidate) => candidate.name));
    // draws 0.0 → r0, then 0.0 of the three others → r1: r1 is lighter.
    expect(chooseReplica(candidates, ring, undefined, 1.25, draws(0.0, 0.0))).toEqual({ index: 1, outcome: 'no_key' });
    // r2 (0.5 → index 2) against r0 (0.1 of the three others → index 0): r0.
    expect(chooseReplica(candidates, ring, undefined, 1.25, draws(0.5, 0.1))).toEqual({ index: 0, outcome: 'no_key' });
    // r2 against r1 (0.4 of the three others → index 1): r1. Never the unseen r3, however idle.
    expect(leastLoaded(candidates, draws(0.5, 0.4))).toEqual({ index: 1, outcome: 'least_loaded' });
  });

  it('counts the queue, then breaks ties on in-flight, then takes the first drawn', () => {
    // r0: 2 + 4 queued = 6, r1: 5 + 0 = 5 → r1.
    expect(leastLoaded(fleet([[2, 4], [5, 0]]), draws(0, 0)).index).toBe(1);
    // Equal loads (6): r1 has fewer in flight.
    expect(leastLoaded(fleet([[6, 0], [2, 4]]), draws(0, 0)).index).toBe(1);
    // Fully equal: the first drawn, whichever index it has.
    expect(leastLoaded(fleet([[3, 0], [3, 0]]), draws(0.9, 0)).index).toBe(1);
    expect(leastLoaded(fleet([[3, 0], [3, 0]]), draws(0.1, 0)).index).toBe(0);
  });

  it('draws two distinct candidates even when random() repeats or leaves [0, 1)', () => {
    const candidates = fleet([[1, 0], [1, 0], [1, 0]]);
    const seen = new Set<number>();
    for (const r of [0, 0.5, 0.99999, 1, -0.5, Number.NaN]) {
      let calls = 0;
      const decision = leastLoaded(candidates, () => {
        calls++;
        return r;
      });
      expect(calls).toBe(2);
      expect(decision.index).toBeGreaterThanOrEqual(0);
      expect(decision.index).toBeLessThan(3);
      seen.add(decision.index);
    }
    // Idle fleets spread: every candidate is reachable as the first draw.
    expect(seen.size).toBe(3);
  });

  it('with one candidate, returns it without drawing', () => {
    const single = fleet([[9, 9]]);
    expect(chooseReplica(single, new HashRing(['r0']), undefined, 1.25, noRandom)).toEqual({ index: 0, outcome: 'no_key' });
    expect(leastLoaded(single, noRandom)).toEqual({ index: 0, outcome: 'least_loaded' });
    expect(() => leastLoaded([], noRandom)).toThrow(RangeError);
  });

  it('spreads keyless requests: over many draws the busiest replica gets the fewest', () => {
    const candidates = fleet([[10, 0], [0, 0], [0, 0], [0, 0]]);
    const random = seededRandom(9);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[leastLoaded(candidates, random).index]!++;
    expect(counts[0]).toBe(0); // it loses every comparison it enters
    for (const count of counts.slice(1)) expect(count).toBeGreaterThan(1100);
  });
});
