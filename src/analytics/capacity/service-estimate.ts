import { predictedWaitVariance, predictWait } from './allen-cunneen.js';
import { replicaQueue, type Workload } from './sizing.js';

/**
 * What the gateway observes of one model over its window: end-to-end latencies include the
 * engine's queueing, so the service time has to be separated from it (see {@link estimateWorkload}).
 */
export interface ObservedTraffic {
  /** Requests per second over the window. */
  readonly arrivalRate: number;
  /** ca² of arrivals; undefined: unknown (taken as 1, Poisson). */
  readonly arrivalScv: number | undefined;
  /** Mean end-to-end latency, seconds. */
  readonly latencyMean: number;
  /** Variance of the end-to-end latency, seconds². */
  readonly latencyVariance: number;
  /** Mean time to first token, seconds; undefined without streamed responses. */
  readonly ttftMean: number | undefined;
  readonly replicas: number;
  readonly concurrencyPerReplica: number;
}

export interface WorkloadEstimate {
  readonly workload: Workload;
  /** The model's mean wait at the observed load (what the latency was decomposed with), seconds. */
  readonly meanWait: number;
}

/**
 * Splits the observed latency T = W + S (wait, then service) with the queue model itself: two
 * unknowns, E[S] and cs², from two equations,
 *
 *   E[T]   = E[S] + Wq(E[S], cs²)
 *   Var(T) = cs²·E[S]² + Var(W)(E[S], cs²)     (a FIFO request's wait is independent of its service)
 *
 * For a trial E[S] the second equation gives cs² (its right side grows with cs²); the first is
 * then solved for E[S] by bisection. At low load W ≈ 0 and S is just the latency; near saturation
 * most of the latency is waiting. The prefill time is the mean TTFT less the mean wait.
 */
export function estimateWorkload(observed: ObservedTraffic): WorkloadEstimate {
  const arrivalScv = observed.arrivalScv ?? 1;
  const latency = observed.latencyMean;
  const variance = Math.max(0, observed.latencyVariance);
  if (!(latency > 0)) throw new RangeError('the mean latency must be > 0');
  const base = {
    arrivalRate: observed.arrivalRate,
    arrivalScv,
    concurrencyPerReplica: observed.concurrencyPerReplica,
    prefillTime: 0,
  };
  const replicas = Math.max(1, observed.replicas);
  const waitAt = (serviceTime: number, serviceScv: number) => predictWait(replicaQueue({ ...base, serviceTime, serviceScv }, replicas));
  const scvAt = (serviceTime: number): number => {
    const varianceAt = (scv: number): number => {
      const prediction = waitAt(serviceTime, scv);
      return scv * serviceTime * serviceTime + (prediction.stable ? predictedWaitVariance(prediction) : Number.POSITIVE_INFINITY);
    };
    if (varianceAt(0) >= variance) return 0;
    let low = 0;
    let high = Math.max(1, variance / (serviceTime * serviceTime));
    while (varianceAt(high) < variance && high < 1e6) high *= 2;
    return bisect(low, high, (scv) => varianceAt(scv) <= variance);
  };
  // The saturating service time: beyond it the queue is unstable and E[T] is unbounded.
  const saturating = observed.arrivalRate > 0 ? (replicas * observed.concurrencyPerReplica) / observed.arrivalRate : Number.POSITIVE_INFINITY;
  const serviceTime = Math.max(
    latency * 1e-6,
    bisect(0, Math.min(latency, saturating), (service) => {
      if (service === 0) return true;
      const prediction = waitAt(service, scvAt(service));
      return prediction.stable && service + prediction.meanWait <= latency;
    }),
  );
  const serviceScv = scvAt(serviceTime);
  const prediction = waitAt(serviceTime, serviceScv);
  const meanWait = prediction.stable ? prediction.meanWait : latency - serviceTime;
  const prefillTime = observed.ttftMean === undefined ? 0 : Math.max(0, observed.ttftMean - meanWait);
  return {
    workload: { ...base, serviceTime, serviceScv, prefillTime },
    meanWait,
  };
}

/** The largest x in [low, high] with holds(x), for a predicate true up to a point and false after (to 1e-10 relative). */
function bisect(low: number, high: number, holds: (x: number) => boolean): number {
  if (holds(high)) return high;
  for (let step = 0; step < 200 && high - low > high * 1e-10; step++) {
    const middle = (low + high) / 2;
    if (holds(middle)) low = middle;
    else high = middle;
  }
  return low;
}

/**
 * ca² of arrivals from request counts in equal slots: the index of dispersion D = Var(N)/E[N], which
 * for a renewal process over slots much longer than the gaps between arrivals tends to ca² (1 for
 * Poisson). With few slots D is noisy (over 5 slots its relative spread is about 60 %), and many
 * independent clients make arrivals Poisson, so D replaces 1 only when it is significant: outside
 * the two-sided 99 % interval of (n − 1)·D ~ χ²(n − 1) that Poisson counts would give. Undefined
 * (take 1) then, and with fewer than 5 slots or fewer than 5 requests per slot on average. A rate
 * that drifts within the window raises D: conservative.
 */
export function arrivalScvFromCounts(counts: readonly number[]): number | undefined {
  if (counts.length < 5) return undefined;
  let sum = 0;
  for (const count of counts) sum += count;
  const mean = sum / counts.length;
  if (mean < 5) return undefined;
  let squares = 0;
  for (const count of counts) squares += (count - mean) ** 2;
  const freedom = counts.length - 1;
  const dispersion = squares / freedom / mean;
  const statistic = dispersion * freedom;
  if (statistic > chiSquaredQuantile(freedom, -Z_995) && statistic < chiSquaredQuantile(freedom, Z_995)) return undefined;
  return dispersion;
}

/** The standard normal's 0.995 quantile. */
const Z_995 = 2.5758293035489;

/** χ² quantile by Wilson–Hilferty: k·(1 − 2/(9k) + z·√(2/(9k)))³, for the normal quantile z. */
export function chiSquaredQuantile(freedom: number, z: number): number {
  const a = 2 / (9 * freedom);
  return freedom * Math.max(0, 1 - a + z * Math.sqrt(a)) ** 3;
}
