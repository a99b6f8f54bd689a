import type { Logger } from 'pino';
import type { InternalErrors } from '../errors/internal-errors.js';
import type { Replica } from '../routing/replica.js';
import { admissionDecision, CompletionRate, lowerClassHasRoom, retryAfterSeconds, type InFlightLoad, type OverloadAction } from './admission.js';
import { PRIORITY_CLASSES, type OverloadConfig, type OverloadLevel, type PriorityClass } from './config.js';
import { WeightedFairQueue } from './fair-queue.js';
import { LoadLevelMachine, loadSignalsOf, type LoadSignals } from './load-level.js';

/** Completions are counted over this window for the drain rate. */
const DRAIN_WINDOW_SECONDS = 10;

/** What the stage is told for one request. */
export interface OverloadVerdict {
  readonly level: OverloadLevel;
  readonly action: OverloadAction | 'queued';
  /** For a shed request: seconds until the queue should have drained. */
  readonly retryAfterSeconds: number | undefined;
}

/** One model's state as GET /api/v1/metrics shows it (under `overload`). */
export interface OverloadModelReport {
  readonly level: OverloadLevel;
  /** Seconds since the level last changed. */
  readonly level_for_seconds: number;
  readonly signals: { readonly waiting_per_replica: number; readonly kv_cache_usage_ratio: number | null; readonly in_flight_ratio: number | null };
  readonly replicas: number;
  /** Requests this gateway has in flight for the model, by class. */
  readonly in_flight: Record<PriorityClass, number>;
  /** Completions per second over the last seconds: the drain rate Retry-After divides by. */
  readonly completions_per_second: number;
  /** Decisions since start, by class and action. */
  readonly decisions: Record<PriorityClass, Record<OverloadAction, number>>;
  /** Requests held in the gateway queue now (0 without it). */
  readonly queued: number;
}

/** How a wait in the gateway queue ended. */
export type QueueOutcome = 'released' | 'full' | 'expired' | 'cancelled';

/** A request held in the queue: its outcome, and a way to leave early (the client closed). */
export interface HeldRequest {
  readonly outcome: Promise<QueueOutcome>;
  cancel(): void;
}

interface QueueEntry {
  settle(outcome: QueueOutcome): void;
}

interface ModelState {
  readonly machine: LoadLevelMachine;
  signals: LoadSignals | undefined;
  replicas: number;
  queueLength: number;
  readonly inFlight: number[];
  readonly completions: CompletionRate;
  readonly decisions: Array<Record<OverloadAction, number>>;
  readonly queue: WeightedFairQueue<QueueEntry>;
}

/**
 * Overload control's state: per model served by the fleet, a hysteresis level judged every
 * `evaluateIntervalMs` from the replicas' figures (engine queue and KV cache from the fleet
 * monitor's scrapes, the gateway's own in-flight counts), and the in-flight requests and
 * completion rate by class that the stage reports. Models are only those the fleet serves, so a
 * client's model names cannot grow it.
 */
export class OverloadController {
  private readonly models = new Map<string, ModelState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: OverloadConfig,
    private readonly fleet: { replicas(): readonly Replica[] },
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(internalErrors: InternalErrors): void {
    if (this.timer !== undefined) return;
    this.evaluate();
    this.timer = setInterval(internalErrors.guard('overload', () => this.evaluate()), this.config.evaluateIntervalMs).unref();
  }

  /** Stops judging; requests still waiting in the queue are shed, so none outlives the gateway. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const state of this.models.values()) for (let entry = state.queue.pop(); entry !== undefined; entry = state.queue.pop()) entry.settle('expired');
  }

  /** Re-judges every served model's level from the fleet as it is now. */
  evaluate(): void {
    const nowMs = this.now();
    const byModel = new Map<string, Replica[]>();
    for (const replica of this.fleet.replicas()) {
      if (!replica.routableAt(nowMs)) continue;
      for (const model of replica.models) {
        const serving = byModel.get(model);
        if (serving === undefined) byModel.set(model, [replica]);
        else serving.push(replica);
      }
    }
    for (const [model, replicas] of byModel) {
      const state = this.stateOf(model, nowMs);
      const loads = replicas.map((replica) => ({ waiting: replica.waiting, kvCacheUsage: replica.engineStats?.kvCacheUsage, inFlight: replica.inFlight }));
      state.signals = loadSignalsOf(loads, this.config.concurrencyPerReplica);
      state.replicas = replicas.length;
      const concurrency = this.config.concurrencyPerReplica;
      const waiting = loads.reduce((sum, load) => sum + load.waiting, 0);
      const excessInFlight = concurrency === undefined ? 0 : Math.max(0, loads.reduce((sum, load) => sum + load.inFlight, 0) - concurrency * replicas.length);
      state.queueLength = waiting + excessInFlight;
      if (state.signals === undefined) continue;
      const previous = state.machine.step(state.signals, nowMs);
      if (previous !== undefined) this.log.warn({ model, from: previous, to: state.machine.level, signals: state.signals }, 'overload level changed');
      // Out of overload, each completion releases one waiting request (stage: started), so the
      // queue drains at the rate the replicas work and never as one burst that would bring the
      // overload straight back. Besides: one per replica per evaluation when normal, and one when
      // nothing is in flight to complete, so the queue cannot stall.
      if (state.machine.level === 'normal') for (let released = 0; released < state.replicas && this.releaseOne(state, released); released++);
      else if (state.machine.level === 'pressure' && state.inFlight.every((count) => count === 0)) this.releaseOne(state);
    }
  }

  /** The decision for a request of `priority` to `model` now; undefined for a model the fleet does not serve. */
  decide(model: string, priority: PriorityClass): OverloadVerdict | undefined {
    const state = this.models.get(model);
    if (state === undefined) return undefined;
    const level = state.machine.level;
    const action = admissionDecision(this.config, level, priority, inFlightLoad(state));
    return { level, action, retryAfterSeconds: action === 'shed' ? this.retryAfter(state) : undefined };
  }

  /** Seconds a shed client of `model` should wait (the engine queue's drain time). */
  retryAfterFor(model: string): number {
    const state = this.models.get(model);
    return state === undefined ? this.config.shed.minRetryAfterSeconds : this.retryAfter(state);
  }

  /**
   * Holds a request of `priority` from `tenant` in the model's queue (fair across tenants,
   * weighted by class) until a release, its class's deadline, or `cancel`; 'full' at once when
   * the queue is full.
   */
  hold(model: string, priority: Exclude<PriorityClass, 'critical'>, tenant: string): HeldRequest {
    const state = this.models.get(model);
    if (state === undefined) return { outcome: Promise.resolve('released'), cancel: () => undefined };
    let entry!: QueueEntry;
    const outcome = new Promise<QueueOutcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      entry = {
        settle: (result) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          if (result !== 'released') state.queue.remove(entry);
          resolve(result);
        },
      };
      if (!state.queue.push(tenant, this.config.queue.weights[priority], entry)) return entry.settle('full');
      timer = setTimeout(() => entry.settle('expired'), this.config.queue.deadlineMs[priority]);
    });
    return { outcome, cancel: () => entry.settle('cancelled') };
  }

  /** Counts a decision (what the stage finally did) for the JSON. */
  counted(model: string, priority: PriorityClass, action: OverloadAction): void {
    const state = this.models.get(model);
    if (state !== undefined) state.decisions[PRIORITY_CLASSES.indexOf(priority)]![action] += 1;
  }

  /**
   * An admitted request starts; the returned function ends it (once). Only a completed request
   * counts in the drain rate: a refusal further on (429) or a failure says nothing of how fast the
   * replicas work through their queue.
   */
  started(model: string, priority: PriorityClass): (completed: boolean) => void {
    const state = this.models.get(model);
    if (state === undefined) return () => undefined;
    const index = PRIORITY_CLASSES.indexOf(priority);
    state.inFlight[index]! += 1;
    let ended = false;
    return (completed) => {
      if (ended) return;
      ended = true;
      state.inFlight[index]! -= 1;
      if (completed) state.completions.record(this.now());
      // A finished request frees a place: out of overload, the next one waiting takes it.
      if (state.machine.level !== 'overload') this.releaseOne(state);
    };
  }

  /** Each served model's level, for the level gauge. */
  levels(): ReadonlyArray<{ readonly model: string; readonly level: OverloadLevel }> {
    return [...this.models].map(([model, state]) => ({ model, level: state.machine.level }));
  }

  /** The JSON under `overload` in GET /api/v1/metrics. */
  report(): Record<string, OverloadModelReport> {
    const nowMs = this.now();
    const byClass = <T>(value: (index: number) => T): Record<PriorityClass, T> =>
      Object.fromEntries(PRIORITY_CLASSES.map((priority, index) => [priority, value(index)])) as Record<PriorityClass, T>;
    const report: Record<string, OverloadModelReport> = {};
    for (const model of [...this.models.keys()].sort()) {
      const state = this.models.get(model)!;
      const signals = state.signals;
      Object.defineProperty(report, model, {
        enumerable: true,
        value: {
          level: state.machine.level,
          level_for_seconds: round((nowMs - state.machine.since) / 1000),
          signals: {
            waiting_per_replica: round(signals?.waitingPerReplica ?? 0),
            kv_cache_usage_ratio: signals?.kvCacheUsage === undefined ? null : round(signals.kvCacheUsage),
            in_flight_ratio: signals?.inFlightRatio === undefined ? null : round(signals.inFlightRatio),
          },
          replicas: state.replicas,
          in_flight: byClass((index) => state.inFlight[index]!),
          completions_per_second: round(state.completions.perSecond(nowMs)),
          decisions: byClass((index) => ({ ...state.decisions[index]! })),
          queued: state.queue.length,
        } satisfies OverloadModelReport,
      });
    }
    return report;
  }

  /** The engine queue plus the gateway's own, drained at the completion rate observed. */
  private retryAfter(state: ModelState): number {
    const { minRetryAfterSeconds: min, maxRetryAfterSeconds: max } = this.config.shed;
    return retryAfterSeconds(state.queueLength + state.queue.length, state.completions.perSecond(this.now()), { min, max });
  }

  /**
   * Releases the next request waiting for the model; false when none waits, or when it would eat
   * into the critical reserve (counting `releasedNow`, the ones released in the same turn that
   * are not in flight yet).
   */
  private releaseOne(state: ModelState, releasedNow = 0): boolean {
    const load = inFlightLoad(state);
    if (!lowerClassHasRoom(this.config, { total: load.total + releasedNow, replicas: load.replicas })) return false;
    const entry = state.queue.pop();
    entry?.settle('released');
    return entry !== undefined;
  }

  private stateOf(model: string, nowMs: number): ModelState {
    let state = this.models.get(model);
    if (state === undefined) {
      state = {
        machine: new LoadLevelMachine(this.config, this.config.exitAfterMs, nowMs),
        signals: undefined,
        replicas: 0,
        queueLength: 0,
        inFlight: PRIORITY_CLASSES.map(() => 0),
        completions: new CompletionRate(DRAIN_WINDOW_SECONDS, nowMs),
        decisions: PRIORITY_CLASSES.map(() => ({ admitted: 0, clamped: 0, shed: 0 })),
        queue: new WeightedFairQueue(this.config.queue.maxLength),
      };
      this.models.set(model, state);
    }
    return state;
  }
}

function inFlightLoad(state: ModelState): InFlightLoad {
  return { total: state.inFlight.reduce((sum, count) => sum + count, 0), critical: state.inFlight[0]!, replicas: Math.max(1, state.replicas) };
}

function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : 0;
}
