import type { HashRing } from './hash-ring.js';
import type { SessionKey } from './session-key.js';

/**
 * The routing decision: consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam,
 * "Consistent Hashing with Bounded Loads", SODA 2018) for requests with a session key, power of
 * two choices for the rest. Pure: the decision depends only on the arguments, so gateways that
 * see the same candidates, loads and key choose the same replica, with no shared state.
 *
 * Load. A candidate's load is `inFlight + waiting`: the requests this gateway has in flight there
 * plus the replica's own engine queue (vLLM `num_requests_waiting`, scraped; 0 if unknown). The
 * queue counts because vLLM only queues once its running batch or KV cache is full: a replica with
 * a queue is saturated, and a cache hit there still waits behind the queue (prefill saved, queueing
 * time paid). It is also the only signal of load that other gateway instances put on the replica,
 * which this gateway's in-flight count cannot see. The bound uses the same measure for the total,
 * so a replica that fits always exists (see `loadLimit`). The queue is a snapshot between scrapes;
 * the in-flight term keeps moving with every decision, so a stale queue cannot pin traffic.
 */

export interface Candidate {
  readonly name: string;
  /** Requests this gateway has in flight on the replica. */
  readonly inFlight: number;
  /** The replica's engine queue from scraped stats (requests), 0 if unknown. */
  readonly waiting: number;
}

/**
 * `affinity`: the key's own replica (its first ring member). `overflow`: the key's replica was at
 * its bound; a later member of the key's walk took it. `no_key`: no session key, power of two
 * choices. `least_loaded`: the operator chose the least-loaded strategy (power of two choices).
 */
export type RoutingOutcome = 'affinity' | 'overflow' | 'least_loaded' | 'no_key';

export interface RoutingDecision {
  /** Index into the candidates. */
  readonly index: number;
  readonly outcome: RoutingOutcome;
}

/** c in the bound `ceil(c × (total + 1) / n)`: each replica may carry 25% above the average. */
export const DEFAULT_CAPACITY_FACTOR = 1.25;

/** Guards the ceiling against float noise such as 1.1 × 10 = 11.000000000000002. */
const CEIL_EPSILON = 1e-9;

/** A candidate's load for routing: in flight plus queued; non-finite or negative parts count as 0. */
export function loadOf(candidate: Candidate): number {
  const inFlight = candidate.inFlight;
  const waiting = candidate.waiting;
  return (inFlight > 0 ? inFlight : 0) + (waiting > 0 ? waiting : 0);
}

/**
 * The most load any replica may carry after taking the request: `ceil(c × (total + 1) / n)`, where
 * `total` is the candidates' summed load before it. Since c ≥ 1, some replica always has room:
 * if every load were at least the limit, the total would be at least n × limit ≥ c × (total + 1).
 */
export function loadLimit(totalLoad: number, candidates: number, capacityFactor: number): number {
  return Math.ceil((capacityFactor * (totalLoad + 1)) / candidates - CEIL_EPSILON);
}

/** The walk's acceptance test, with the per-call state in a reused object (no closure per decision). */
interface FitState {
  candidates: readonly Candidate[];
  limit: number;
}
const fitState: FitState = { candidates: [], limit: 0 };

function fits(memberIndex: number, state: FitState): boolean {
  return loadOf(state.candidates[memberIndex]!) + 1 <= state.limit;
}

const AFFINITY: RoutingDecision[] = [];
const OVERFLOW: RoutingDecision[] = [];
const NO_KEY: RoutingDecision[] = [];
const LEAST_LOADED: RoutingDecision[] = [];

/** Decisions are immutable; one per (outcome, index) is made once and reused. */
function decision(cache: RoutingDecision[], outcome: RoutingOutcome, index: number): RoutingDecision {
  return (cache[index] ??= Object.freeze({ index, outcome }));
}

/**
 * Chooses a candidate for a request.
 *
 * With a session key: the first replica in the key's ring walk whose load after taking the request
 * stays within `loadLimit` (outcome `affinity` if that is the key's own replica, else `overflow`).
 * Without one: power of two choices (`no_key`).
 *
 * `ring` must be built over exactly the candidates' names, in the candidates' order (a ring per
 * candidate set, cached by the caller). `random` returns numbers in [0, 1); it is only called for
 * requests without a key. `capacityFactor` must be at least 1 (1.25 is the usual choice).
 */
export function chooseReplica(
  candidates: readonly Candidate[],
  ring: HashRing,
  key: SessionKey | undefined,
  capacityFactor: number,
  random: () => number,
): RoutingDecision {
  const n = candidates.length;
  if (n === 0) throw new RangeError('chooseReplica needs at least one candidate');
  if (key === undefined) return powerOfTwoChoices(candidates, random, NO_KEY, 'no_key');
  if (!(capacityFactor >= 1) || !Number.isFinite(capacityFactor)) {
    throw new RangeError(`capacityFactor must be a finite number ≥ 1, got ${capacityFactor}`);
  }
  assertRingMatches(ring, candidates);
  if (n === 1) return decision(AFFINITY, 'affinity', 0);

  let total = 0;
  for (let i = 0; i < n; i++) total += loadOf(candidates[i]!);
  const limit = loadLimit(total, n, capacityFactor);

  const owner = ring.owner(key.hash);
  if (loadOf(candidates[owner]!) + 1 <= limit) return decision(AFFINITY, 'affinity', owner);

  // Save and restore the shared state, so that even a nested decision (a load getter that routes)
  // cannot corrupt this one.
  const previousCandidates = fitState.candidates;
  const previousLimit = fitState.limit;
  fitState.candidates = candidates;
  fitState.limit = limit;
  let chosen: number;
  try {
    chosen = ring.firstFit(key.hash, fits, fitState);
  } finally {
    fitState.candidates = previousCandidates;
    fitState.limit = previousLimit;
  }
  // Unreachable while c ≥ 1 (see loadLimit); kept so a float surprise degrades to least loaded.
  if (chosen < 0) chosen = leastLoadedIndex(candidates);
  return decision(chosen === owner ? AFFINITY : OVERFLOW, chosen === owner ? 'affinity' : 'overflow', chosen);
}

/**
 * The least-loaded strategy, for operators who choose it over session affinity: power of two
 * choices, outcome `least_loaded`.
 */
export function leastLoaded(candidates: readonly Candidate[], random: () => number): RoutingDecision {
  if (candidates.length === 0) throw new RangeError('leastLoaded needs at least one candidate');
  return powerOfTwoChoices(candidates, random, LEAST_LOADED, 'least_loaded');
}

/**
 * Two distinct candidates drawn at random; the one with the lower load (`inFlight + waiting`),
 * then the lower `inFlight`, then the one drawn first. Picking the first drawn on a tie keeps idle
 * fleets evenly spread; picking the lower index would favour the first candidates.
 */
function powerOfTwoChoices(
  candidates: readonly Candidate[],
  random: () => number,
  cache: RoutingDecision[],
  outcome: RoutingOutcome,
): RoutingDecision {
  const n = candidates.length;
  if (n === 1) return decision(cache, outcome, 0);
  const first = pickIndex(random(), n);
  let second = pickIndex(random(), n - 1);
  if (second >= first) second++;
  const a = candidates[first]!;
  const b = candidates[second]!;
  const loadA = loadOf(a);
  const loadB = loadOf(b);
  let chosen = first;
  if (loadB < loadA || (loadB === loadA && (b.inFlight > 0 ? b.inFlight : 0) < (a.inFlight > 0 ? a.inFlight : 0))) {
    chosen = second;
  }
  return decision(cache, outcome, chosen);
}

/** floor(r × n), clamped to [0, n - 1] whatever `random` returns. */
function pickIndex(r: number, n: number): number {
  const index = Math.floor(r * n);
  return index >= 0 && index < n ? index : index >= n ? n - 1 : 0;
}

function leastLoadedIndex(candidates: readonly Candidate[]): number {
  let best = 0;
  let bestLoad = loadOf(candidates[0]!);
  for (let i = 1; i < candidates.length; i++) {
    const load = loadOf(candidates[i]!);
    if (load < bestLoad) {
      best = i;
      bestLoad = load;
    }
  }
  return best;
}

function assertRingMatches(ring: HashRing, candidates: readonly Candidate[]): void {
  const members = ring.members;
  let matches = members.length === candidates.length;
  for (let i = 0; matches && i < candidates.length; i++) matches = members[i] === candidates[i]!.name;
  if (!matches) {
    throw new Error(
      `the hash ring (${members.join(', ')}) is not built over the candidates (${candidates.map((c) => c.name).join(', ')}) in their order`,
    );
  }
}
