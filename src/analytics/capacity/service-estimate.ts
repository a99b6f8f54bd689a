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

const ITERATIONS = 30;

/**
 * Splits the observed latency T = W + S (wait, then service) with the queue model itself: E[S] is
 * the solution of E[T] = E[S] + Wq(E[S]) (the left side grows with E[S], so bisection finds the one
 * root), and, the wait of a FIFO request being independent of its own service, Var(S) = Var(T) −
 * Var(W). cs² feeds back into Wq through Allen–Cunneen, so the two are iterated to a fixed point.
 * At low load W ≈ 0 and S is just the latency; near saturation most of the latency is waiting.
 * The prefill time is the mean TTFT less the mean wait.
 */
export function estimateWorkload(observed: ObservedTraffic): WorkloadEstimate {
  const arrivalScv = observed.arrivalScv ?? 1;
  const latency = observed.latencyMean;
  if (!(latency > 0)) throw new RangeError('the mean latency must be > 0');
  const base = {
    arrivalRate: observed.arrivalRate,
    arrivalScv,
    concurrencyPerReplica: observed.concurrencyPerReplica,
    prefillTime: 0,
  };
  const replicas = Math.max(1, observed.replicas);
  let serviceScv = Math.max(0, observed.latencyVariance) / (latency * latency);
  let serviceTime = latency;
  let meanWait = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const waitAt = (service: number) => predictWait(replicaQueue({ ...base, serviceTime: service, serviceScv }, replicas));
    // The saturating service time: beyond it the queue is unstable and E[T] is unbounded.
    const saturating = observed.arrivalRate > 0 ? (replicas * observed.concurrencyPerReplica) / observed.arrivalRate : Number.POSITIVE_INFINITY;
    let low = 0;
    let high = Math.min(latency, saturating);
    for (let step = 0; step < 200 && high - low > latency * 1e-9; step++) {
      const middle = (low + high) / 2;
      const prediction = waitAt(middle);
      if (prediction.stable && middle + prediction.meanWait <= latency) low = middle;
      else high = middle;
    }
    serviceTime = Math.max(low, latency * 1e-6);
    const prediction = waitAt(serviceTime);
    meanWait = prediction.stable ? prediction.meanWait : latency - serviceTime;
    const serviceVariance = Math.max(0, observed.latencyVariance - (prediction.stable ? predictedWaitVariance(prediction) : 0));
    const next = serviceVariance / (serviceTime * serviceTime);
    if (Math.abs(next - serviceScv) < 1e-9) {
      serviceScv = next;
      break;
    }
    serviceScv = next;
  }
  const prefillTime = observed.ttftMean === undefined ? 0 : Math.max(0, observed.ttftMean - meanWait);
  return {
    workload: { ...base, serviceTime, serviceScv, prefillTime },
    meanWait,
  };
}

/**
 * ca² of arrivals from request counts in equal slots: the index of dispersion Var(N)/E[N], which for
 * a renewal process over slots much longer than the gaps between arrivals tends to ca² (1 for
 * Poisson). Undefined with fewer than 5 slots or fewer than 5 requests per slot on average, where
 * the estimate is mostly noise. A rate that drifts within the window raises it: conservative.
 */
export function arrivalScvFromCounts(counts: readonly number[]): number | undefined {
  if (counts.length < 5) return undefined;
  let sum = 0;
  for (const count of counts) sum += count;
  const mean = sum / counts.length;
  if (mean < 5) return undefined;
  let squares = 0;
  for (const count of counts) squares += (count - mean) ** 2;
  return squares / (counts.length - 1) / mean;
}
