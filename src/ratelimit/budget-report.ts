import type { KeyBudget } from '../auth/policy.js';
import { formatNanos } from '../cost/cost.js';
import { budgetCapsNanos, budgetPeriods } from './budget-periods.js';
import { forecastPeriod, type PeriodForecast } from './budget-forecast.js';

/**
 * The budgets' state as the admin API shows it (GET /api/v1/budgets: per key and per tenant) and
 * as the Prometheus gauges show it (per tenant label and period only: metrics never name keys).
 * Pure: built from one reading of the store's counters and the spend rates.
 */

export const BUDGET_PERIOD_NAMES = ['day', 'month'] as const;
export type BudgetPeriodName = (typeof BUDGET_PERIOD_NAMES)[number];

/**
 * The shares of their budget at which keys are counted in `tollbooth_budget_keys_spent{ratio}`:
 * fixed, so the series are bounded; the monitoring mixin's thresholds must be one of them.
 */
export const KEY_BUDGET_RATIOS = [0.5, 0.8, 0.9, 1] as const;

/** A key with a budget, as the key ring knows it. */
export interface BudgetedKey {
  readonly keyId: string;
  readonly tenant: string;
  readonly budget: KeyBudget;
}

/** A key's counters in the current periods (0 when the store holds none, or holds a past period's). */
export interface KeySpend {
  readonly daySpentNanos: bigint;
  readonly monthSpentNanos: bigint;
}

/** One read of every budgeted key's counters, at the store's clock. */
export interface BudgetSpendReading {
  readonly atMs: number;
  readonly store: 'memory' | 'redis';
  /** Keys without counters are absent (nothing spent). */
  readonly spends: ReadonlyMap<string, KeySpend>;
}

/**
 * What a store offers the budget monitor: the counters of the given keys, read together; undefined
 * while the store cannot be read (Redis down: its own health alert and log say so already).
 */
export interface BudgetSpendReader {
  readBudgetSpend(keys: readonly BudgetedKey[]): Promise<BudgetSpendReading | undefined>;
}

export interface BudgetPeriodFigures {
  /** The cap and the spend, exact decimal strings in currency units. */
  readonly budget: string;
  readonly spent: string;
  readonly spent_percent: number;
  readonly exhausted: boolean;
  /** At the current spend rate: seconds until the cap is reached (0 once exhausted); null when the period ends first or nothing is being spent. */
  readonly exhausts_in_seconds: number | null;
  readonly exhausts_at: string | null;
  /** The share of the cap spent by the period's end at the current rate; null before a rate is known (two reads). */
  readonly projected_percent: number | null;
  readonly resets_at: string;
}

export interface KeyBudgetFigures {
  readonly tenant: string;
  /** Spend per hour over the rate window (currency units); null before two reads. */
  readonly spend_per_hour: string | null;
  /** null when the key has no cap for the period. */
  readonly day: BudgetPeriodFigures | null;
  readonly month: BudgetPeriodFigures | null;
}

/** A tenant's budget is the sum of its keys' caps (budgets are per key); its spend, their spend. */
export interface TenantBudgetFigures {
  readonly keys: number;
  readonly spend_per_hour: string | null;
  readonly day: BudgetPeriodFigures | null;
  readonly month: BudgetPeriodFigures | null;
}

/** GET /api/v1/budgets. */
export interface BudgetReport {
  readonly currency: string;
  /** When the counters were read (the store's clock). */
  readonly read_at: string;
  readonly store: 'memory' | 'redis';
  readonly refresh_interval_seconds: number;
  readonly rate_window_seconds: number;
  readonly keys: Record<string, KeyBudgetFigures>;
  readonly tenants: Record<string, TenantBudgetFigures>;
}

/** One series set of the budget gauges: a tenant label and a period. */
export interface BudgetGaugeRow {
  readonly tenant: string;
  readonly period: BudgetPeriodName;
  readonly spentRatio: number;
  readonly exhaustsInSeconds: number | undefined;
  /** Keys with a cap for the period. */
  readonly keys: number;
  /** Keys at or above each of KEY_BUDGET_RATIOS, in that order. */
  readonly keysAtOrAbove: readonly number[];
  /** Keys whose cap is reached before the period ends at their current rate (exhausted ones included). */
  readonly keysForecastExhausted: number;
}

export interface BudgetState {
  readonly report: BudgetReport;
  readonly gauges: readonly BudgetGaugeRow[];
}

export interface BuildBudgetStateInput {
  readonly keys: readonly BudgetedKey[];
  readonly reading: BudgetSpendReading;
  /** Nano-units per second of a key (SpendRateTracker), undefined before two reads. */
  readonly rateOf: (keyId: string) => number | undefined;
  /** Declared tenants keep their name, the others collapse (auth/tenant-label.ts). */
  readonly tenantLabel: (tenant: string) => string;
  readonly currency: string;
  readonly refreshIntervalMs: number;
  readonly rateWindowMs: number;
}

interface KeyForecast {
  readonly key: BudgetedKey;
  readonly rate: number | undefined;
  readonly periods: Record<BudgetPeriodName, PeriodForecast | undefined>;
}

export function buildBudgetState(input: BuildBudgetStateInput): BudgetState {
  const { reading } = input;
  const periods = budgetPeriods(reading.atMs);
  const resetsAt: Record<BudgetPeriodName, number> = { day: periods.dayEndsAtMs, month: periods.monthEndsAtMs };
  const forecasts: KeyForecast[] = input.keys.map((key) => {
    const caps = budgetCapsNanos(key.budget);
    const spend = reading.spends.get(key.keyId);
    const rate = input.rateOf(key.keyId);
    const forecast = (cap: bigint | undefined, spent: bigint, period: BudgetPeriodName) =>
      cap === undefined ? undefined : forecastPeriod(spent, cap, rate, reading.atMs, resetsAt[period]);
    return {
      key,
      rate,
      periods: { day: forecast(caps.daily, spend?.daySpentNanos ?? 0n, 'day'), month: forecast(caps.monthly, spend?.monthSpentNanos ?? 0n, 'month') },
    };
  });

  const keys: Record<string, KeyBudgetFigures> = {};
  for (const { key, rate, periods: keyPeriods } of [...forecasts].sort((a, b) => compare(a.key.keyId, b.key.keyId))) {
    keys[key.keyId] = {
      tenant: key.tenant,
      spend_per_hour: perHour(rate),
      day: periodFigures(keyPeriods.day, reading.atMs),
      month: periodFigures(keyPeriods.month, reading.atMs),
    };
  }
  const tenants: Record<string, TenantBudgetFigures> = {};
  for (const [tenant, members] of [...groupBy(forecasts, (forecast) => forecast.key.tenant)].sort(([a], [b]) => compare(a, b))) {
    const total = (period: BudgetPeriodName) => sumForecast(members, period, reading.atMs, resetsAt[period]);
    tenants[tenant] = { keys: members.length, spend_per_hour: perHour(sumRates(members)), day: periodFigures(total('day'), reading.atMs), month: periodFigures(total('month'), reading.atMs) };
  }

  const gauges: BudgetGaugeRow[] = [];
  for (const [tenant, members] of [...groupBy(forecasts, (forecast) => input.tenantLabel(forecast.key.tenant))].sort(([a], [b]) => compare(a, b))) {
    for (const period of BUDGET_PERIOD_NAMES) {
      const total = sumForecast(members, period, reading.atMs, resetsAt[period]);
      if (total === undefined) continue;
      const own = members.map((member) => member.periods[period]).filter((forecast) => forecast !== undefined);
      gauges.push({
        tenant,
        period,
        spentRatio: total.spentRatio,
        exhaustsInSeconds: total.exhaustsInSeconds,
        keys: own.length,
        keysAtOrAbove: KEY_BUDGET_RATIOS.map((ratio) => own.filter((forecast) => forecast.spentRatio >= ratio).length),
        keysForecastExhausted: own.filter((forecast) => forecast.exhaustsInSeconds !== undefined).length,
      });
    }
  }

  return {
    report: {
      currency: input.currency,
      read_at: new Date(reading.atMs).toISOString(),
      store: reading.store,
      refresh_interval_seconds: input.refreshIntervalMs / 1000,
      rate_window_seconds: input.rateWindowMs / 1000,
      keys,
      tenants,
    },
    gauges,
  };
}

/** The members' caps, spends and rates added up (members without a cap for the period left out). */
function sumForecast(members: readonly KeyForecast[], period: BudgetPeriodName, nowMs: number, resetsAtMs: number): PeriodForecast | undefined {
  const capped = members.filter((member) => member.periods[period] !== undefined);
  if (capped.length === 0) return undefined;
  let cap = 0n;
  let spent = 0n;
  for (const member of capped) {
    cap += member.periods[period]!.capNanos;
    spent += member.periods[period]!.spentNanos;
  }
  return forecastPeriod(spent, cap, sumRates(capped), nowMs, resetsAtMs);
}

/** The sum of the known rates; undefined when none is known yet. */
function sumRates(members: readonly KeyForecast[]): number | undefined {
  const known = members.map((member) => member.rate).filter((rate) => rate !== undefined);
  return known.length === 0 ? undefined : known.reduce((sum, rate) => sum + rate, 0);
}

function periodFigures(forecast: PeriodForecast | undefined, nowMs: number): BudgetPeriodFigures | null {
  if (forecast === undefined) return null;
  const seconds = forecast.exhaustsInSeconds;
  return {
    budget: formatNanos(forecast.capNanos),
    spent: formatNanos(forecast.spentNanos),
    spent_percent: percent(forecast.spentRatio),
    exhausted: forecast.exhausted,
    exhausts_in_seconds: seconds === undefined ? null : Math.round(seconds),
    exhausts_at: seconds === undefined ? null : new Date(nowMs + Math.round(seconds * 1000)).toISOString(),
    projected_percent: forecast.projectedRatio === undefined ? null : percent(forecast.projectedRatio),
    resets_at: new Date(forecast.resetsAtMs).toISOString(),
  };
}

/** A ratio as a percentage with three decimals (enough for a threshold, free of float noise). */
function percent(ratio: number): number {
  return Math.round(ratio * 100_000) / 1000;
}

function perHour(ratePerSecond: number | undefined): string | null {
  return ratePerSecond === undefined ? null : formatNanos(BigInt(Math.round(ratePerSecond * 3600)));
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
