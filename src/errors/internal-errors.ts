import type { Logger } from 'pino';

/**
 * Where an error escaped from work the gateway schedules outside a request's own promise chain.
 * A closed set: it is the `stage` label of `tollbooth_internal_errors_total`, so it stays bounded.
 */
export const INTERNAL_ERROR_STAGES = [
  /** Reading the finished observation: measures and cost. */
  'measures',
  /** Releasing the request's rate-limit reservation and concurrency slot. */
  'settlement',
  'metrics',
  'statistics',
  'access_log',
  /** Writing the audit log (a full disk, a removed directory). */
  'audit_log',
  /** Building the request's spans and handing them to the span processor. */
  'tracing',
  /** The fleet monitor's probes, model reads and engine scrapes. */
  'fleet_monitor',
  /** Applying a reloaded configuration file. */
  'config_reload',
  'dns_discovery',
  /** Reloading API keys from the keys file or the Redis key store. */
  'key_reload',
  /** Ending the open responses at the drain deadline. */
  'drain',
  /** Evaluating the built-in alerts (src/alerts/). */
  'alerts',
  /** Reading the budget counters for the budget figures and forecasts (ratelimit/budget-monitor.ts). */
  'budgets',
  /** Building and sending the live metrics stream's once-a-second snapshot (src/admin/live-metrics.ts). */
  'live_metrics',
  /** Judging the closed statistics slots for anomalies (src/analytics/anomaly/). */
  'anomaly',
  /** Judging the models' overload levels from the fleet (src/overload/). */
  'overload',
  /** An upstream exchange's own timer: the first-byte deadline (proxy/upstream-exchange.ts). */
  'upstream_exchange',
] as const;

export type InternalErrorStage = (typeof INTERNAL_ERROR_STAGES)[number];

/** The counter's one method the guard uses (a FixedCounter with the `stage` label). */
export interface InternalErrorCounter {
  inc(labels: { stage: InternalErrorStage }): void;
}

/**
 * The one guard around callbacks that nothing awaits (a response's 'close' microtask, timers,
 * reloads): an error there would otherwise be an uncaught exception or an unhandled rejection,
 * and Node ends the process for both. Each error is logged once, with the request id when there
 * is one, and counted; the process keeps serving.
 *
 * One instance per running gateway, never a module-level one: its counter lives in that gateway's
 * own metrics registry. The key ring starts before the gateway that owns the registry exists, so
 * the counter is attached when the gateway is built (`countInto`); reports before that are logged.
 */
export class InternalErrors {
  private counter: InternalErrorCounter | undefined;

  constructor(private readonly log: Logger) {}

  /** Counts every later report in `counter` (the gateway's `tollbooth_internal_errors_total`). */
  countInto(counter: InternalErrorCounter): void {
    this.counter = counter;
  }

  report(stage: InternalErrorStage, error: unknown, requestId?: string): void {
    try {
      this.counter?.inc({ stage });
      this.log.error({ stage, ...(requestId === undefined ? {} : { request_id: requestId }), err: error }, `internal error in ${stage}: the process keeps serving`);
    } catch {
      // Reporting must not become the failure it reports (a broken log destination, say).
    }
  }

  /** Runs `task` now; a throw, or the rejection of the promise it returns, is reported instead of propagated. */
  run(stage: InternalErrorStage, task: () => unknown, requestId?: string): void {
    const result = this.attempt(stage, task, requestId);
    if (result instanceof Promise) result.catch((error: unknown) => this.report(stage, error, requestId));
  }

  /** `task()`'s value, or undefined (reported) when it throws. */
  attempt<T>(stage: InternalErrorStage, task: () => T, requestId?: string): T | undefined {
    try {
      return task();
    } catch (error) {
      this.report(stage, error, requestId);
      return undefined;
    }
  }

  /** `callback` made safe to hand to a timer, an event emitter or a microtask. */
  guard<A extends unknown[]>(stage: InternalErrorStage, callback: (...args: A) => unknown): (...args: A) => void {
    return (...args) => this.run(stage, () => callback(...args));
  }
}
