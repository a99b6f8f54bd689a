import type { OverloadFacts } from '../lifecycle/observation.js';
import type { OverloadConfig, OverloadLevel, PriorityClass } from './config.js';

/** What overload control finally does with one request: let it through as sent, clamp its max_tokens, or shed it. */
export type OverloadAction = OverloadFacts['action'];

/**
 * The decision for a request of class `priority` at the model's `level`, in the configured order:
 * under pressure the clamped classes get the max_tokens ceiling; in overload the shed classes are
 * refused, and critical only when critical requests alone already fill the hard limit
 * (`criticalInFlight` across the model's `replicas`), so it is shed last.
 * With the gateway queue on, the queued classes are held in overload before anything else (they
 * are shed later, if the queue is full or their deadline passes).
 * 'clamped' means "clamp if the request asks for more than the ceiling"; the stage decides.
 */
export function overloadDecision(
  config: Pick<OverloadConfig, 'clamp' | 'shed' | 'queue'>,
  level: OverloadLevel,
  priority: PriorityClass,
  criticalInFlight: number,
  replicas: number,
): OverloadAction | 'queued' {
  if (level === 'normal') return 'admitted';
  if (level === 'overload' && config.queue.enabled && priority !== 'critical' && config.queue.classes.includes(priority)) return 'queued';
  if (level === 'overload' && config.shed.enabled) {
    if (priority === 'critical') {
      const limit = config.shed.criticalHardLimitPerReplica;
      if (limit !== undefined && criticalInFlight + 1 > limit * replicas) return 'shed';
    } else if (config.shed.classes.includes(priority)) return 'shed';
  }
  if (config.clamp.enabled && config.clamp.classes.includes(priority)) return 'clamped';
  return 'admitted';
}

/** The model's requests in flight at this gateway, and over how many replicas. */
export interface InFlightLoad {
  /** Every class together. */
  readonly total: number;
  readonly critical: number;
  readonly replicas: number;
}

/**
 * Whether a standard or batch request may take an engine slot now: while the model's requests in
 * flight (every class) stay below `concurrencyPerReplica - criticalReservePerReplica` per replica,
 * so the reserved slots are free when a critical request comes. Always true without a reserve.
 */
export function lowerClassHasRoom(config: Pick<OverloadConfig, 'concurrencyPerReplica' | 'criticalReservePerReplica'>, load: Pick<InFlightLoad, 'total' | 'replicas'>): boolean {
  const { concurrencyPerReplica, criticalReservePerReplica } = config;
  if (concurrencyPerReplica === undefined || criticalReservePerReplica === undefined) return true;
  return load.total < (concurrencyPerReplica - criticalReservePerReplica) * load.replicas;
}

/**
 * The decision for a request: the critical reserve first (judged on the gateway's own in-flight
 * count, which it knows at once, unlike the scraped engine queue), then the level's
 * (overloadDecision). A lower-class request that would eat into the reserve waits in the gateway
 * queue when its class is queued, else is shed, at any level: forwarded, it would take the slot a
 * critical request needs, or queue in the engine ahead of it.
 */
export function admissionDecision(config: OverloadConfig, level: OverloadLevel, priority: PriorityClass, load: InFlightLoad): OverloadAction | 'queued' {
  if (priority !== 'critical' && !lowerClassHasRoom(config, load)) return config.queue.enabled && config.queue.classes.includes(priority) ? 'queued' : 'shed';
  return overloadDecision(config, level, priority, load.critical, load.replicas);
}

/**
 * Seconds a shed client should wait: the time the model's queue takes to drain at the completion
 * rate the gateway observes (queue ÷ completions per second), rounded up, within the bounds. No
 * completions observed: the upper bound (nothing says the queue moves).
 */
export function retryAfterSeconds(queueLength: number, completionsPerSecond: number, bounds: { readonly min: number; readonly max: number }): number {
  if (!(queueLength > 0)) return bounds.min;
  if (!(completionsPerSecond > 0)) return bounds.max;
  return Math.min(bounds.max, Math.max(bounds.min, Math.ceil(queueLength / completionsPerSecond)));
}

/**
 * Completions per second over a sliding window of one-second slots, the current one and the
 * `windowSeconds - 1` before it (a ring: constant memory per model, constant work per completion).
 * Times are the caller's milliseconds.
 */
export class CompletionRate {
  private readonly counts: number[];
  private readonly slotOf: number[];
  private readonly startedAt: number;

  constructor(
    private readonly windowSeconds: number,
    nowMs: number,
  ) {
    this.counts = Array.from({ length: windowSeconds }, () => 0);
    this.slotOf = Array.from({ length: windowSeconds }, () => -1);
    this.startedAt = nowMs;
  }

  record(nowMs: number): void {
    const slot = Math.floor(nowMs / 1000);
    const index = slot % this.windowSeconds;
    if (this.slotOf[index] !== slot) {
      this.slotOf[index] = slot;
      this.counts[index] = 0;
    }
    this.counts[index]! += 1;
  }

  /** Completions per second over the window (over the time since start while it is shorter). */
  perSecond(nowMs: number): number {
    const slot = Math.floor(nowMs / 1000);
    let total = 0;
    for (let index = 0; index < this.windowSeconds; index++) {
      const age = slot - this.slotOf[index]!;
      if (this.slotOf[index]! >= 0 && age >= 0 && age < this.windowSeconds) total += this.counts[index]!;
    }
    const spanSeconds = Math.min(this.windowSeconds, Math.max(1, (nowMs - this.startedAt) / 1000));
    return total / spanSeconds;
  }
}
