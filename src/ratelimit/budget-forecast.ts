import { budgetPeriods, civilFromDays, daysFromCivil } from './budget-periods.js';

/**
 * Budget forecasts, pure: the spend rate of a key from successive readings of its month counter,
 * and when a period's cap is reached at that rate. Time is passed in (the store's clock: Redis's
 * TIME with the Redis store), so the forecasts follow the same UTC day and month as enforcement
 * (budget-periods.ts).
 */

const MS_PER_DAY = 86_400_000;
/** Samples kept per key over the rate window: memory stays bounded whatever the refresh interval. */
const SAMPLES_PER_WINDOW = 12;

/** First millisecond of the calendar month (UTC) a moment falls in. */
export function monthStartMs(nowMs: number): number {
  const { year, month } = civilFromDays(Math.floor(nowMs / MS_PER_DAY));
  return daysFromCivil(year, month, 1) * MS_PER_DAY;
}

interface SpendSample {
  readonly atMs: number;
  /** The month counter (nano-units) at `atMs`; as a number, exact below 2^53 nano-units (9 million units). */
  readonly spent: number;
}

interface KeyHistory {
  month: number;
  /** Thinned samples, oldest first: one per window / SAMPLES_PER_WINDOW at most. */
  readonly kept: SpendSample[];
  latest: SpendSample;
}

/**
 * The linear spend rate of each key over the last `windowMs`: (latest month counter − the counter
 * at the window's start) / the time between them. The month counter only grows within a month
 * (it holds every charge, whichever caps the key has), so a day boundary changes nothing; at a
 * month boundary the history restarts from the month's first millisecond, where the counter was 0.
 * Until a second reading exists there is no rate (undefined): one figure says nothing about speed.
 */
export class SpendRateTracker {
  readonly #windowMs: number;
  readonly #history = new Map<string, KeyHistory>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  record(keyId: string, atMs: number, monthSpentNanos: bigint): void {
    const month = budgetPeriods(atMs).month;
    const sample = { atMs, spent: Number(monthSpentNanos) };
    const history = this.#history.get(keyId);
    if (history === undefined) {
      this.#history.set(keyId, { month, kept: [sample], latest: sample });
      return;
    }
    if (history.month !== month) {
      history.month = month;
      history.kept.length = 0;
      history.kept.push({ atMs: monthStartMs(atMs), spent: 0 });
    }
    if (atMs < history.latest.atMs) return;
    history.latest = sample;
    const lastKept = history.kept[history.kept.length - 1];
    if (lastKept === undefined || atMs - lastKept.atMs >= this.#windowMs / SAMPLES_PER_WINDOW) history.kept.push(sample);
    // Keep one sample at or before the window's start, so the rate spans the whole window.
    const windowStart = atMs - this.#windowMs;
    while (history.kept.length > 1 && history.kept[1]!.atMs <= windowStart) history.kept.shift();
  }

  /** Nano-units per second over the window, or undefined before two readings exist. */
  ratePerSecond(keyId: string): number | undefined {
    const history = this.#history.get(keyId);
    const base = history?.kept[0];
    if (history === undefined || base === undefined || history.latest.atMs <= base.atMs) return undefined;
    return Math.max(0, history.latest.spent - base.spent) / ((history.latest.atMs - base.atMs) / 1000);
  }

  /** Drops the history of keys no longer budgeted (removed or changed keys). */
  retain(keyIds: ReadonlySet<string>): void {
    for (const keyId of this.#history.keys()) if (!keyIds.has(keyId)) this.#history.delete(keyId);
  }

  get size(): number {
    return this.#history.size;
  }
}

/** One period (day or month) of a budget, at a moment. */
export interface PeriodForecast {
  readonly capNanos: bigint;
  readonly spentNanos: bigint;
  /** spent / cap (1 and above: exhausted). */
  readonly spentRatio: number;
  readonly exhausted: boolean;
  /**
   * Seconds until the cap is reached at the current rate: 0 once exhausted; undefined when it is
   * not reached before the period ends (the counter resets first), or when there is no spend rate
   * (no spend, or one reading only).
   */
  readonly exhaustsInSeconds: number | undefined;
  /** (spent + rate × time left) / cap at the period's end; undefined without a rate. */
  readonly projectedRatio: number | undefined;
  readonly resetsAtMs: number;
}

/**
 * The linear forecast: with `spent` of `cap` used at `nowMs`, spending `ratePerSecond` nano-units
 * a second, the counter resetting at `resetsAtMs`.
 */
export function forecastPeriod(spentNanos: bigint, capNanos: bigint, ratePerSecond: number | undefined, nowMs: number, resetsAtMs: number): PeriodForecast {
  const cap = Number(capNanos);
  const spent = Number(spentNanos);
  const exhausted = spentNanos >= capNanos;
  const secondsLeft = Math.max(0, (resetsAtMs - nowMs) / 1000);
  let exhaustsInSeconds: number | undefined;
  if (exhausted) exhaustsInSeconds = 0;
  else if (ratePerSecond !== undefined && ratePerSecond > 0) {
    const seconds = (cap - spent) / ratePerSecond;
    if (seconds < secondsLeft) exhaustsInSeconds = seconds;
  }
  return {
    capNanos,
    spentNanos,
    spentRatio: spent / cap,
    exhausted,
    exhaustsInSeconds,
    projectedRatio: ratePerSecond === undefined ? undefined : (spent + ratePerSecond * secondsLeft) / cap,
    resetsAtMs,
  };
}
