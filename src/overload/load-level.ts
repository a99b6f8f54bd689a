import { OVERLOAD_LEVELS, type LevelThresholds, type OverloadLevel } from './config.js';

/** A model's load now, over the replicas serving it (the fleet monitor's scrapes and the gateway's own counts). */
export interface LoadSignals {
  /** Engine queue per replica: the replicas' waiting requests summed, divided by their number. */
  readonly waitingPerReplica: number;
  /** The fullest replica's KV-cache use, 0-1; undefined when no replica reported it. */
  readonly kvCacheUsage: number | undefined;
  /** Gateway in-flight requests per replica ÷ the configured concurrency; undefined without one. */
  readonly inFlightRatio: number | undefined;
}

/** What one replica contributes to its model's signals. */
export interface ReplicaLoad {
  /** The engine's queue at its last fresh scrape (0 when unknown). */
  readonly waiting: number;
  readonly kvCacheUsage: number | undefined;
  /** Requests the gateway has in flight there. */
  readonly inFlight: number;
}

/** The signals of a model served by `replicas`; undefined when none serves it. */
export function loadSignalsOf(replicas: readonly ReplicaLoad[], concurrencyPerReplica: number | undefined): LoadSignals | undefined {
  if (replicas.length === 0) return undefined;
  let waiting = 0;
  let inFlight = 0;
  let kvCacheUsage: number | undefined;
  for (const replica of replicas) {
    waiting += replica.waiting;
    inFlight += replica.inFlight;
    if (replica.kvCacheUsage !== undefined && (kvCacheUsage === undefined || replica.kvCacheUsage > kvCacheUsage)) kvCacheUsage = replica.kvCacheUsage;
  }
  return {
    waitingPerReplica: waiting / replicas.length,
    kvCacheUsage,
    inFlightRatio: concurrencyPerReplica === undefined ? undefined : inFlight / replicas.length / concurrencyPerReplica,
  };
}

type Judged = keyof LevelThresholds;
const JUDGED: readonly Judged[] = ['waitingPerReplica', 'kvCacheUsage', 'inFlightRatio'];

/** Some configured signal is above its `enter`. */
export function aboveEnter(thresholds: LevelThresholds, signals: LoadSignals): boolean {
  return JUDGED.some((name) => {
    const band = thresholds[name];
    const value = signals[name];
    return band !== undefined && value !== undefined && value > band.enter;
  });
}

/** Every configured signal is below its `exit` (a signal nobody reports counts as below). */
export function belowExit(thresholds: LevelThresholds, signals: LoadSignals): boolean {
  return JUDGED.every((name) => {
    const band = thresholds[name];
    const value = signals[name];
    return band === undefined || value === undefined || value < band.exit;
  });
}

/** Index of a level in OVERLOAD_LEVELS: normal 0, pressure 1, overload 2 (also the gauge's value). */
export function levelRank(level: OverloadLevel): number {
  return OVERLOAD_LEVELS.indexOf(level);
}

/**
 * One model's level with hysteresis, a pure state machine over (signals, time): a level is entered
 * as soon as a signal goes above its `enter` (levels may be skipped), and left once every signal has
 * stayed below its `exit` for `exitAfterMs` (then the level below applies, itself judged the same
 * way). Between exit and enter the level holds, so a signal hovering near one threshold cannot flap.
 */
export class LoadLevelMachine {
  private current: OverloadLevel = 'normal';
  /** Per raised level (pressure, overload): since when every signal has been below its exit. */
  private readonly belowSince: Array<number | undefined> = OVERLOAD_LEVELS.map(() => undefined);
  private changedAt: number;

  constructor(
    private readonly thresholds: { readonly pressure: LevelThresholds; readonly overload: LevelThresholds },
    private readonly exitAfterMs: number,
    nowMs: number,
  ) {
    this.changedAt = nowMs;
  }

  get level(): OverloadLevel {
    return this.current;
  }

  /** When the level last changed (the caller's clock). */
  get since(): number {
    return this.changedAt;
  }

  /** Judges the signals at `nowMs`; returns the level before, when it changed. */
  step(signals: LoadSignals, nowMs: number): OverloadLevel | undefined {
    const rank = levelRank(this.current);
    let next = 0;
    for (let level = OVERLOAD_LEVELS.length - 1; level >= 1; level--) {
      const thresholds = level === 1 ? this.thresholds.pressure : this.thresholds.overload;
      if (belowExit(thresholds, signals)) this.belowSince[level] ??= nowMs;
      else this.belowSince[level] = undefined;
      if (next > 0) continue;
      if (aboveEnter(thresholds, signals)) next = level;
      else if (rank >= level) {
        const below = this.belowSince[level];
        if (below === undefined || nowMs - below < this.exitAfterMs) next = level;
      }
    }
    const previous = this.current;
    const nextLevel = OVERLOAD_LEVELS[next]!;
    if (nextLevel === previous) return undefined;
    this.current = nextLevel;
    this.changedAt = nowMs;
    return previous;
  }
}
