import type { Logger } from 'pino';
import type { InternalErrors } from '../errors/internal-errors.js';
import type { Replica } from '../routing/replica.js';
import { overloadDecision, CompletionRate, retryAfterSeconds, type OverloadAction } from './admission.js';
import { PRIORITY_CLASSES, type OverloadConfig, type OverloadLevel, type PriorityClass } from './config.js';
import { LoadLevelMachine, loadSignalsOf, type LoadSignals } from './load-level.js';

/** Completions are counted over this window for the drain rate. */
const DRAIN_WINDOW_SECONDS = 10;

/** What the stage is told for one request. */
export interface OverloadVerdict {
  readonly level: OverloadLevel;
  readonly action: OverloadAction;
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
}

interface ModelState {
  readonly machine: LoadLevelMachine;
  signals: LoadSignals | undefined;
  replicas: number;
  queueLength: number;
  readonly inFlight: number[];
  readonly completions: CompletionRate;
  readonly decisions: Array<Record<OverloadAction, number>>;
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

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
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
    }
  }

  /** The decision for a request of `priority` to `model` now; undefined for a model the fleet does not serve. */
  decide(model: string, priority: PriorityClass): OverloadVerdict | undefined {
    const state = this.models.get(model);
    if (state === undefined) return undefined;
    const level = state.machine.level;
    const action = overloadDecision(this.config, level, priority, state.inFlight[0]!, Math.max(1, state.replicas));
    const retryAfter =
      action === 'shed'
        ? retryAfterSeconds(state.queueLength, state.completions.perSecond(this.now()), { min: this.config.shed.minRetryAfterSeconds, max: this.config.shed.maxRetryAfterSeconds })
        : undefined;
    return { level, action, retryAfterSeconds: retryAfter };
  }

  /** Counts a decision (what the stage finally did) for the JSON. */
  counted(model: string, priority: PriorityClass, action: OverloadAction): void {
    const state = this.models.get(model);
    if (state !== undefined) state.decisions[PRIORITY_CLASSES.indexOf(priority)]![action] += 1;
  }

  /** An admitted request starts; the returned function ends it (once) and counts its completion. */
  started(model: string, priority: PriorityClass): () => void {
    const state = this.models.get(model);
    if (state === undefined) return () => undefined;
    const index = PRIORITY_CLASSES.indexOf(priority);
    state.inFlight[index]! += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      state.inFlight[index]! -= 1;
      state.completions.record(this.now());
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
        } satisfies OverloadModelReport,
      });
    }
    return report;
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
      };
      this.models.set(model, state);
    }
    return state;
  }
}

function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : 0;
}
