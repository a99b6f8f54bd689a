/**
 * The M/M/c queue (Poisson arrivals at rate λ, exponential service at rate μ per server, c servers,
 * one FIFO queue, no abandonment): Erlang C and the waiting-time distribution.
 *
 * Erlang C is computed through the Erlang B recursion B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)),
 * then C = c·B / (c − a·(1 − B)). Every step stays in [0, 1], so it neither overflows nor loses
 * precision for c in the thousands, where the textbook sum of a^k/k! overflows near k = 170.
 */

/** Offered load a = λ/μ (in servers), utilisation ρ = a/c. */
export interface MmcQueue {
  /** Arrivals per second, λ ≥ 0. */
  readonly arrivalRate: number;
  /** Mean service time in seconds, 1/μ > 0. */
  readonly serviceTime: number;
  /** Servers, a whole number ≥ 1. */
  readonly servers: number;
}

/** Erlang B: the blocking probability of an M/M/c/c loss system with offered load `a`. */
export function erlangB(servers: number, offeredLoad: number): number {
  checkServers(servers);
  if (!(offeredLoad >= 0) || !Number.isFinite(offeredLoad)) throw new RangeError('offered load must be finite and ≥ 0');
  let blocking = 1;
  for (let k = 1; k <= servers; k++) blocking = (offeredLoad * blocking) / (k + offeredLoad * blocking);
  return blocking;
}

/** Erlang C: the probability that an arrival waits, P(W > 0); 1 when the queue is unstable (a ≥ c). */
export function erlangC(servers: number, offeredLoad: number): number {
  if (offeredLoad >= servers) return 1;
  if (offeredLoad === 0) return 0;
  const blocking = erlangB(servers, offeredLoad);
  return (servers * blocking) / (servers - offeredLoad * (1 - blocking));
}

export function offeredLoad(queue: MmcQueue): number {
  checkQueue(queue);
  return queue.arrivalRate * queue.serviceTime;
}

export function utilisation(queue: MmcQueue): number {
  return offeredLoad(queue) / queue.servers;
}

export function isStable(queue: MmcQueue): boolean {
  return utilisation(queue) < 1;
}

/** P(W > 0). */
export function waitProbability(queue: MmcQueue): number {
  return erlangC(queue.servers, offeredLoad(queue));
}

/**
 * The rate of the conditional wait's exponential tail, cμ − λ: given that a request waits, its wait
 * is exponential with this rate. 0 when unstable.
 */
export function drainRate(queue: MmcQueue): number {
  return Math.max(0, queue.servers / queue.serviceTime - queue.arrivalRate);
}

/** Mean wait in the queue, Wq = C / (cμ − λ), seconds; Infinity when unstable. */
export function meanWait(queue: MmcQueue): number {
  if (!isStable(queue)) return Number.POSITIVE_INFINITY;
  return waitProbability(queue) / drainRate(queue);
}

/** Variance of the wait: E[W²] = 2C/θ², so Var = (2C − C²)/θ² with θ = cμ − λ. */
export function waitVariance(queue: MmcQueue): number {
  if (!isStable(queue)) return Number.POSITIVE_INFINITY;
  const c = waitProbability(queue);
  const theta = drainRate(queue);
  return (2 * c - c * c) / (theta * theta);
}

/** P(W > t) = C·e^(−(cμ−λ)t). */
export function waitExceedance(queue: MmcQueue, seconds: number): number {
  if (seconds < 0) return 1;
  if (!isStable(queue)) return 1;
  return waitProbability(queue) * Math.exp(-drainRate(queue) * seconds);
}

/** The q-quantile of the wait (q in (0,1)): 0 when P(W > 0) ≤ 1 − q, else ln(C/(1−q)) / (cμ − λ). */
export function waitQuantile(queue: MmcQueue, q: number): number {
  return exponentialTailQuantile(waitProbability(queue), isStable(queue) ? drainRate(queue) : 0, q);
}

/**
 * The q-quantile of a wait that is 0 with probability 1 − p and otherwise exponential with `rate`.
 * Infinity when the rate is 0 (unstable) and the quantile falls in the tail.
 */
export function exponentialTailQuantile(waitProbability: number, rate: number, q: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError('quantile must be in (0, 1)');
  const tail = 1 - q;
  if (waitProbability <= tail) return 0;
  if (rate <= 0) return Number.POSITIVE_INFINITY;
  return Math.log(waitProbability / tail) / rate;
}

function checkServers(servers: number): void {
  if (!Number.isInteger(servers) || servers < 1) throw new RangeError('servers must be a whole number ≥ 1');
}

function checkQueue(queue: MmcQueue): void {
  checkServers(queue.servers);
  if (!(queue.arrivalRate >= 0) || !Number.isFinite(queue.arrivalRate)) throw new RangeError('arrival rate must be finite and ≥ 0');
  if (!(queue.serviceTime > 0) || !Number.isFinite(queue.serviceTime)) throw new RangeError('service time must be finite and > 0');
}
