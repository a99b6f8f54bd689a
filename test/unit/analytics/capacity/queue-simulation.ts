/**
 * A discrete-event simulation of the G/G/c FIFO queue the capacity model describes, for tests.
 * With one FIFO queue, a request starts on the server that frees first (Kiefer–Wolfowitz): its
 * wait is max(0, earliest free time − arrival). The free times live in a binary min-heap, so a
 * request costs O(log c).
 */
export type Sampler = (random: () => number) => number;

export const exponential = (mean: number): Sampler => (random) => -mean * Math.log(1 - random());
/** Sum of k exponentials: cs² = 1/k. */
export const erlang = (mean: number, k: number): Sampler => (random) => {
  let sum = 0;
  for (let i = 0; i < k; i++) sum += -Math.log(1 - random());
  return (sum * mean) / k;
};
/** Uniform on [mean·(1 − spread), mean·(1 + spread)]: cs² = spread²/3. */
export const uniform = (mean: number, spread: number): Sampler => (random) => mean * (1 - spread + 2 * spread * random());
/** Balanced two-phase hyperexponential with squared coefficient of variation scv > 1. */
export const hyperexponential = (mean: number, scv: number): Sampler => {
  const p = 0.5 * (1 + Math.sqrt((scv - 1) / (scv + 1)));
  const mean1 = mean / (2 * p);
  const mean2 = mean / (2 * (1 - p));
  return (random) => -(random() < p ? mean1 : mean2) * Math.log(1 - random());
};

export interface SimulatedQueue {
  readonly meanWait: number;
  readonly waitProbability: number;
  /** Sorted waits, for quantiles. */
  readonly waits: Float64Array;
}

export function simulateQueue(options: {
  interArrival: Sampler;
  service: Sampler;
  servers: number;
  requests: number;
  /** Requests discarded at the start (the empty system is not the steady state). */
  warmUp: number;
  random: () => number;
}): SimulatedQueue {
  const { servers, random } = options;
  const heap = new Float64Array(servers); // free times, all 0 at the start
  const waits = new Float64Array(options.requests);
  let now = 0;
  let waited = 0;
  let total = 0;
  for (let i = 0; i < options.warmUp + options.requests; i++) {
    now += options.interArrival(random);
    const start = Math.max(now, heap[0]!);
    const wait = start - now;
    replaceTop(heap, start + options.service(random));
    if (i >= options.warmUp) {
      waits[i - options.warmUp] = wait;
      total += wait;
      if (wait > 0) waited += 1;
    }
  }
  waits.sort();
  return { meanWait: total / options.requests, waitProbability: waited / options.requests, waits };
}

export function quantileOf(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Replaces the heap's minimum with `value` and sifts it down. */
function replaceTop(heap: Float64Array, value: number): void {
  const size = heap.length;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= size) break;
    const right = left + 1;
    const child = right < size && heap[right]! < heap[left]! ? right : left;
    if (heap[child]! >= value) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = value;
}
