import type { TokenCounts } from '../cost/cost.js';
import { budgetPeriods, civilFromDays, daysFromCivil } from './budget-periods.js';

/**
 * Usage per key (requests, input / cached input / output tokens, cost) per UTC day and calendar
 * month, counted by both stores at every settlement, for every key: budgeted or not. The periods
 * are budget-periods.ts's (the Redis store computes them in Lua on Redis's clock, as for budgets).
 * A period's counters are kept for USAGE_RETENTION_MS after it ends, so last month can be read.
 */

export const USAGE_PERIOD_KINDS = ['day', 'month'] as const;
export type UsagePeriodKind = (typeof USAGE_PERIOD_KINDS)[number];

/** A UTC day (days since the epoch) or a calendar month (year × 12 + month index), as budget-periods.ts numbers them. */
export interface UsagePeriod {
  readonly kind: UsagePeriodKind;
  readonly index: number;
}

export interface UsageCounts {
  readonly requests: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  readonly costNanos: bigint;
}

/** One key's counters in one period, with the tenant the key had at its latest counted request. */
export interface KeyUsage extends UsageCounts {
  readonly keyId: string;
  readonly tenant: string;
}

/** What a store offers the usage API: every key's counters of one period; undefined while it cannot be read. */
export interface UsageReader {
  readUsage(period: UsagePeriod): Promise<readonly KeyUsage[] | undefined>;
}

const MS_PER_DAY = 86_400_000;

/** How long a period's counters outlive its end: two months of days, thirteen months of months. */
export const USAGE_RETENTION_MS: Readonly<Record<UsagePeriodKind, number>> = { day: 62 * MS_PER_DAY, month: 400 * MS_PER_DAY };

/** The day and the month a moment falls in. */
export function usagePeriodsAt(nowMs: number): Readonly<Record<UsagePeriodKind, UsagePeriod>> {
  const { day, month } = budgetPeriods(nowMs);
  return { day: { kind: 'day', index: day }, month: { kind: 'month', index: month } };
}

export function periodStartMs(period: UsagePeriod): number {
  if (period.kind === 'day') return period.index * MS_PER_DAY;
  return daysFromCivil(Math.floor(period.index / 12), (period.index % 12) + 1, 1) * MS_PER_DAY;
}

/** The first millisecond after the period. */
export function periodEndMs(period: UsagePeriod): number {
  return periodStartMs({ kind: period.kind, index: period.index + 1 });
}

/** Whether the period's counters are still kept at `nowMs`. */
export function usageRetained(period: UsagePeriod, nowMs: number): boolean {
  return periodEndMs(period) + USAGE_RETENTION_MS[period.kind] > nowMs;
}

/** "2026-12-07" for a day, "2026-12" for a month. */
export function periodLabel(period: UsagePeriod): string {
  if (period.kind === 'month') return `${Math.floor(period.index / 12)}-${pad((period.index % 12) + 1)}`;
  const { year, month, day } = civilFromDays(period.index);
  return `${year}-${pad(month)}-${pad(day)}`;
}

/**
 * The period named by a query: `date` YYYY-MM-DD for a day, YYYY-MM for a month, absent for the
 * current one. A string says what is wrong.
 */
export function parseUsagePeriod(kind: UsagePeriodKind, date: string | undefined, nowMs: number): UsagePeriod | string {
  if (date === undefined) return usagePeriodsAt(nowMs)[kind];
  const match = kind === 'day' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(date) : /^(\d{4})-(\d{2})$/.exec(date);
  const expected = kind === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM';
  if (match === null) return `date must be ${expected} for period=${kind}, got "${date}"`;
  const year = Number(match[1]);
  const month = Number(match[2]);
  if (month < 1 || month > 12) return `date "${date}" has no month ${month}`;
  if (kind === 'month') return { kind, index: year * 12 + month - 1 };
  const index = daysFromCivil(year, month, Number(match[3]));
  if (periodLabel({ kind, index }) !== date) return `date "${date}" is not a day of the calendar`;
  return { kind, index };
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

export const NO_USAGE: UsageCounts = { requests: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costNanos: 0n };

export function addUsage(total: UsageCounts, more: UsageCounts): UsageCounts {
  return {
    requests: total.requests + more.requests,
    inputTokens: total.inputTokens + more.inputTokens,
    cachedInputTokens: total.cachedInputTokens + more.cachedInputTokens,
    outputTokens: total.outputTokens + more.outputTokens,
    costNanos: total.costNanos + more.costNanos,
  };
}

/**
 * One settled request as counts (tokens unknown: 0; a request that failed early still counts as a
 * request). Whole tokens: the Redis store adds them with HINCRBY, which refuses anything else.
 */
export function settledUsage(tokens: TokenCounts | undefined, costNanos: bigint): UsageCounts {
  const whole = (count: number | undefined): number => Math.max(0, Math.round(count ?? 0));
  return { requests: 1, inputTokens: whole(tokens?.input), cachedInputTokens: whole(tokens?.cachedInput), outputTokens: whole(tokens?.output), costNanos };
}
