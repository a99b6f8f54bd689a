import { type GgcQueue, predictedWaitQuantile, predictWait, type WaitPrediction } from './allen-cunneen.js';

/**
 * Replica counts and headroom for a target, over the fleet model documented in README.md: each of
 * `replicas` replicas is a G/G/k queue (k = concurrency per replica, vLLM's max_num_seqs) fed an
 * even share λ/n of the arrivals. A replica's share of a random split of a renewal stream has
 * ca² ≈ p·ca² + (1 − p) with p = 1/n (thinning moves any stream towards Poisson). Routing that
 * looks at load (the gateway's balancers) does better than a random split, so the figures lean
 * conservative.
 */
export interface Workload {
  /** Arrivals per second to the model, all replicas together. */
  readonly arrivalRate: number;
  readonly arrivalScv: number;
  /** Mean service time of one request on a replica, seconds (prefill + decode, no queueing). */
  readonly serviceTime: number;
  readonly serviceScv: number;
  /** Concurrent sequences per replica (servers of one replica's queue). */
  readonly concurrencyPerReplica: number;
  /** Time to the first token once admitted (prefill), seconds; added to the wait for TTFT. */
  readonly prefillTime: number;
}

/** Every configured bound must hold; an empty target is met by any stable queue. */
export interface CapacityTarget {
  /** Upper bound of P(W > 0). */
  readonly waitProbability?: number | undefined;
  /** Upper bound of the mean wait, seconds. */
  readonly meanWaitSeconds?: number | undefined;
  /** TTFT at `quantile` (e.g. 0.95) at most `seconds`: the wait quantile plus the prefill time. */
  readonly ttft?: { readonly quantile: number; readonly seconds: number } | undefined;
}

export interface ReplicaPrediction extends WaitPrediction {
  readonly replicas: number;
  /** The predicted TTFT at the target's quantile (or p95 without one), seconds. */
  readonly ttftQuantile: number;
  readonly ttftQuantileLevel: number;
  /** The wait at the same quantile, seconds. */
  readonly waitQuantile: number;
}

/** Replica counts searched at most; beyond it a target is reported as unreachable. */
export const MAX_REPLICAS = 1_000_000;

export function replicaQueue(workload: Workload, replicas: number): GgcQueue {
  if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError('replicas must be a whole number ≥ 1');
  const share = 1 / replicas;
  return {
    arrivalRate: workload.arrivalRate * share,
    serviceTime: workload.serviceTime,
    servers: workload.concurrencyPerReplica,
    arrivalScv: share * workload.arrivalScv + (1 - share),
    serviceScv: workload.serviceScv,
  };
}

export function predictReplicas(workload: Workload, replicas: number, target: CapacityTarget): ReplicaPrediction {
  const prediction = predictWait(replicaQueue(workload, replicas));
  const level = target.ttft?.quantile ?? 0.95;
  const wait = predictedWaitQuantile(prediction, level);
  return { ...prediction, replicas, waitQuantile: wait, ttftQuantile: wait + workload.prefillTime, ttftQuantileLevel: level };
}

export function meetsTarget(prediction: ReplicaPrediction, target: CapacityTarget): boolean {
  if (!prediction.stable) return false;
  if (target.waitProbability !== undefined && prediction.waitProbability > target.waitProbability) return false;
  if (target.meanWaitSeconds !== undefined && prediction.meanWait > target.meanWaitSeconds) return false;
  if (target.ttft !== undefined && prediction.ttftQuantile > target.ttft.seconds) return false;
  return true;
}

/**
 * The fewest replicas that meet the target, or null when none up to {@link MAX_REPLICAS} does (a
 * TTFT bound below the prefill time cannot be met by adding replicas). At least 1. The search
 * doubles then bisects: meeting the target is monotone in the replica count (less load each).
 */
export function requiredReplicas(workload: Workload, target: CapacityTarget): number | null {
  const meets = (replicas: number): boolean => meetsTarget(predictReplicas(workload, replicas, target), target);
  const stableFrom = Math.max(1, Math.floor((workload.arrivalRate * workload.serviceTime) / workload.concurrencyPerReplica) + 1);
  let low = stableFrom - 1; // fails (or is 0)
  let high = stableFrom;
  while (!meets(high)) {
    if (high >= MAX_REPLICAS) return null;
    low = high;
    high = Math.min(MAX_REPLICAS, high * 2);
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (middle >= 1 && meets(middle)) high = middle;
    else low = middle;
  }
  return high;
}

/**
 * The highest arrival rate (all replicas together, per second) at which `replicas` still meet the
 * target; 0 when not even an idle fleet does. Found by bisection to a relative 1e-6.
 */
export function maxArrivalRate(workload: Workload, replicas: number, target: CapacityTarget): number {
  const meetsAt = (rate: number): boolean => meetsTarget(predictReplicas({ ...workload, arrivalRate: rate }, replicas, target), target);
  const saturation = (replicas * workload.concurrencyPerReplica) / workload.serviceTime;
  if (!meetsAt(0)) return 0;
  let low = 0;
  let high = saturation;
  for (let i = 0; i < 100 && high - low > saturation * 1e-6; i++) {
    const middle = (low + high) / 2;
    if (meetsAt(middle)) low = middle;
    else high = middle;
  }
  return low;
}
