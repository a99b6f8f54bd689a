/**
 * Open-loop load: requests sent at Poisson arrival times (exponential gaps from a seeded
 * generator), each without waiting for the ones before, as many independent clients would. A
 * request goes out when its time comes even if the event loop was late for the previous one.
 */
export interface PoissonLoadResult {
  readonly sent: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Send times (ms, performance.now()) in order, for the arrival process actually produced. */
  readonly sendTimes: readonly number[];
}

export async function drivePoissonLoad(options: {
  /** Requests per second. */
  readonly rate: number;
  readonly durationMs: number;
  readonly random: () => number;
  /** Sends one request; resolves true when it succeeded. */
  readonly send: (index: number) => Promise<boolean>;
}): Promise<PoissonLoadResult> {
  const start = performance.now();
  const sendTimes: number[] = [];
  const pending: Array<Promise<boolean>> = [];
  let due = 0;
  for (let index = 0; ; index++) {
    due += (-Math.log(1 - options.random()) / options.rate) * 1000;
    if (due > options.durationMs) break;
    const wait = start + due - performance.now();
    if (wait > 0) await new Promise((wake) => setTimeout(wake, wait));
    sendTimes.push(performance.now());
    pending.push(options.send(index).catch(() => false));
  }
  const outcomes = await Promise.all(pending);
  const succeeded = outcomes.filter(Boolean).length;
  return { sent: outcomes.length, succeeded, failed: outcomes.length - succeeded, sendTimes };
}
