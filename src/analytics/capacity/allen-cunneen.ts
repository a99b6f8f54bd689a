import { drainRate, exponentialTailQuantile, isStable, type MmcQueue, utilisation, waitProbability } from './erlang-c.js';

/**
 * The G/G/c queue by the Allen–Cunneen approximation: the M/M/c wait scaled by the variability of
 * arrivals and service,
 *
 *   Wq(G/G/c) ≈ Wq(M/M/c) · (ca² + cs²) / 2,
 *
 * with ca² and cs² the squared coefficients of variation (variance / mean²) of the inter-arrival
 * and service times (1 for exponential, 0 for constant). P(W > 0) is kept at Erlang C (the usual
 * companion of the approximation), and the conditional wait is taken as exponential with the
 * corrected mean, so its tail rate is (cμ − λ) · 2 / (ca² + cs²). Exact for M/M/c (ca² = cs² = 1);
 * for M/G/1 it is the Pollaczek–Khinchine mean; best at moderate to high utilisation.
 */
export interface GgcQueue extends MmcQueue {
  /** Squared coefficient of variation of inter-arrival times (1: Poisson). */
  readonly arrivalScv: number;
  /** Squared coefficient of variation of service times (1: exponential, 0: constant). */
  readonly serviceScv: number;
}

export interface WaitPrediction {
  readonly utilisation: number;
  readonly stable: boolean;
  /** P(W > 0). */
  readonly waitProbability: number;
  /** Mean wait in the queue, seconds (Infinity when unstable). */
  readonly meanWait: number;
  /** Rate of the conditional wait's exponential tail, 1/s (0 when unstable). */
  readonly tailRate: number;
}

export function variabilityFactor(queue: Pick<GgcQueue, 'arrivalScv' | 'serviceScv'>): number {
  if (!(queue.arrivalScv >= 0) || !(queue.serviceScv >= 0)) throw new RangeError('squared coefficients of variation must be ≥ 0');
  return (queue.arrivalScv + queue.serviceScv) / 2;
}

export function predictWait(queue: GgcQueue): WaitPrediction {
  const factor = variabilityFactor(queue);
  const stable = isStable(queue);
  const probability = waitProbability(queue);
  if (!stable) {
    return { utilisation: utilisation(queue), stable, waitProbability: 1, meanWait: Number.POSITIVE_INFINITY, tailRate: 0 };
  }
  // A constant-arrival, constant-service queue below saturation never waits (factor 0).
  const tailRate = factor === 0 ? Number.POSITIVE_INFINITY : drainRate(queue) / factor;
  const meanWait = probability === 0 || factor === 0 ? 0 : probability / tailRate;
  return { utilisation: utilisation(queue), stable, waitProbability: factor === 0 ? 0 : probability, meanWait, tailRate };
}

/** The q-quantile of the wait under the prediction's exponential-tail shape, seconds. */
export function predictedWaitQuantile(prediction: WaitPrediction, q: number): number {
  if (!prediction.stable) return Number.POSITIVE_INFINITY;
  return exponentialTailQuantile(prediction.waitProbability, prediction.tailRate, q);
}

/** Variance of the wait under the same shape: (2p − p²)/r² for probability p and tail rate r. */
export function predictedWaitVariance(prediction: WaitPrediction): number {
  if (!prediction.stable) return Number.POSITIVE_INFINITY;
  const p = prediction.waitProbability;
  if (p === 0) return 0;
  return (2 * p - p * p) / (prediction.tailRate * prediction.tailRate);
}
