import type { Logger } from 'pino';
import type { InternalErrors } from '../../errors/internal-errors.js';
import type { AggregateSet } from '../../telemetry/stats/aggregate-set.js';
import type { AnomalyConfig } from './config.js';
import type { AnomalyMonitor, FindingChange, ScopeRef, SlotObservation } from './monitor.js';
import { slotSignals } from './signals.js';

/** What the runner reads of a replica: its name, its models and its engine queue at the last scrape. */
export interface ReplicaView {
  readonly name: string;
  readonly models: ReadonlySet<string>;
  readonly engineStats: { readonly waiting: number } | undefined;
}

/** What the runner reads of the statistics: their slot length and the closed slots. */
export interface ClosedSlots {
  readonly slotMs: number;
  closedSlot(index: number, nowMs: number): AggregateSet | undefined;
}

export interface AnomalyRunnerOptions {
  readonly monitor: AnomalyMonitor;
  readonly statistics: ClosedSlots;
  readonly replicas: () => readonly ReplicaView[];
  readonly settings: Pick<AnomalyConfig, 'sampleIntervalMs' | 'minSamples'>;
  readonly log: Logger;
  readonly internalErrors: InternalErrors;
  readonly now?: () => number;
}

interface QueueSamples {
  slot: number;
  sum: number;
  count: number;
}

/**
 * The thin wiring around the pure {@link AnomalyMonitor}: a guarded timer (every
 * sampleIntervalMs) samples each replica's engine queue into the open slot and hands every newly
 * closed statistics slot to the monitor, per model and per replica; one log line per finding that
 * starts or resolves. Nothing runs per request: the slots are the statistics' own.
 */
export class AnomalyRunner {
  private timer: NodeJS.Timeout | undefined;
  private nextSlot: number | undefined;
  private readonly queues = new Map<string, QueueSamples>();
  private readonly now: () => number;

  constructor(private readonly options: AnomalyRunnerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(this.options.internalErrors.guard('anomaly', () => this.tick()), this.options.settings.sampleIntervalMs).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Judges the slots closed since the last tick, then samples the queues into the open slot. */
  tick(nowMs: number = this.now()): FindingChange[] {
    const { slotMs } = this.options.statistics;
    const openSlot = Math.floor(nowMs / slotMs);
    // The first slot judged is the one open at the first tick: it is whole by the time it closes.
    let next = this.nextSlot ?? openSlot;
    const replicas = this.options.replicas();
    const changes: FindingChange[] = [];
    for (; next < openSlot; next++) {
      const set = this.options.statistics.closedSlot(next, nowMs);
      // A slot the ring no longer holds (the timer was held up past the window) is skipped.
      if (set !== undefined) changes.push(...this.judgeSlot(next, set, replicas));
    }
    this.nextSlot = next;
    this.sampleQueues(openSlot, replicas);
    return changes;
  }

  private judgeSlot(slot: number, set: AggregateSet, replicas: readonly ReplicaView[]): FindingChange[] {
    const { slotMs } = this.options.statistics;
    const { minSamples } = this.options.settings;
    const observations: SlotObservation[] = [];
    const scopes: ScopeRef[] = [];
    const servedModels = new Map<string, readonly string[]>();
    const modelQueues = new Map<string, number>();
    const add = (scope: ScopeRef, aggregate: Parameters<typeof slotSignals>[0], queue: number | undefined): void => {
      scopes.push(scope);
      const signals = slotSignals(aggregate, slotMs, minSamples);
      if (queue !== undefined) signals.engine_queue = queue;
      for (const [signal, value] of Object.entries(signals) as Array<[SlotObservation['signal'], number]>) observations.push({ scope, signal, value });
    };
    for (const replica of replicas) {
      const models = [...replica.models];
      servedModels.set(replica.name, models);
      const queue = this.queueMean(replica.name, slot);
      if (queue !== undefined) for (const model of models) modelQueues.set(model, (modelQueues.get(model) ?? 0) + queue);
      add({ kind: 'replica', name: replica.name }, set.byReplica.get(replica.name), queue);
    }
    for (const model of new Set(replicas.flatMap((replica) => [...replica.models]))) {
      add({ kind: 'model', name: model }, set.byModel.get(model), modelQueues.get(model));
    }
    const { monitor } = this.options;
    monitor.retainScopes(scopes);
    const changes = monitor.observeSlot(slot * slotMs, observations, servedModels);
    for (const change of changes) this.logChange(change);
    return changes;
  }

  private sampleQueues(openSlot: number, replicas: readonly ReplicaView[]): void {
    const names = new Set<string>();
    for (const replica of replicas) {
      names.add(replica.name);
      const waiting = replica.engineStats?.waiting;
      if (waiting === undefined || !Number.isFinite(waiting)) continue;
      let samples = this.queues.get(replica.name);
      if (samples === undefined) {
        samples = { slot: openSlot, sum: 0, count: 0 };
        this.queues.set(replica.name, samples);
      }
      if (samples.slot !== openSlot) Object.assign(samples, { slot: openSlot, sum: 0, count: 0 });
      samples.sum += waiting;
      samples.count += 1;
    }
    for (const name of this.queues.keys()) if (!names.has(name)) this.queues.delete(name);
  }

  /** The mean of the queue samples taken while `slot` was open; undefined without any (stale or unscraped engine). */
  private queueMean(name: string, slot: number): number | undefined {
    const samples = this.queues.get(name);
    return samples === undefined || samples.slot !== slot || samples.count === 0 ? undefined : samples.sum / samples.count;
  }

  private logChange({ finding, change }: FindingChange): void {
    const fields = {
      finding: finding.id,
      signal: finding.signal,
      scope: finding.scope,
      [finding.scope]: finding.name,
      direction: finding.direction,
      severity: finding.severity,
      value: finding.value,
      baseline: finding.baseline,
      sigma: Math.round(finding.sigma * 100) / 100,
      since: new Date(finding.sinceMs).toISOString(),
    };
    const line = `anomaly ${change}: ${finding.signal} of ${finding.scope} ${finding.name} ${finding.direction} (${finding.value} vs ${finding.baseline} ${finding.unit})`;
    if (change === 'started' && finding.severity === 'warning') this.options.log.warn(fields, line);
    else this.options.log.info(fields, line);
  }
}
