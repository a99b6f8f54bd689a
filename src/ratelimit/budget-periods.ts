import type { KeyBudget } from '../auth/policy.js';
import { unitsToNanos } from '../cost/cost.js';

/**
 * Budget windows: the UTC day and the calendar month (UTC) a moment falls in. Written as integer
 * arithmetic on days since the epoch (H. Hinnant's civil-from-days algorithm) rather than with
 * `Date`, because the Redis store runs the very same steps in Lua on Redis's clock
 * (redis-scripts.ts), and this function is how that logic is tested.
 */

const MS_PER_DAY = 86_400_000;

export interface BudgetPeriods {
  /** Days since 1970-01-01 (UTC). */
  readonly day: number;
  /** year × 12 + month index (0 = January). */
  readonly month: number;
  /** First millisecond of the next UTC day. */
  readonly dayEndsAtMs: number;
  /** First millisecond of the next calendar month. */
  readonly monthEndsAtMs: number;
}

export function budgetPeriods(nowMs: number): BudgetPeriods {
  const day = Math.floor(nowMs / MS_PER_DAY);
  const { year, month } = civilFromDays(day);
  const nextYear = month === 12 ? year + 1 : year;
  const nextMonth = month === 12 ? 1 : month + 1;
  return {
    day,
    month: year * 12 + (month - 1),
    dayEndsAtMs: (day + 1) * MS_PER_DAY,
    monthEndsAtMs: daysFromCivil(nextYear, nextMonth, 1) * MS_PER_DAY,
  };
}

/** Year and month (1-12) of a day number. */
export function civilFromDays(daysSinceEpoch: number): { year: number; month: number; day: number } {
  const z = daysSinceEpoch + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Day number of a civil date (month 1-12). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** A key's budget caps in nano-units; absent caps are undefined. */
export interface BudgetCapsNanos {
  readonly daily: bigint | undefined;
  readonly monthly: bigint | undefined;
}

const capsByBudget = new WeakMap<KeyBudget, BudgetCapsNanos>();

/**
 * The budget's caps in nano-units, converted once per policy object (policies live as long as
 * their key), not on every admission.
 */
export function budgetCapsNanos(budget: KeyBudget): BudgetCapsNanos {
  let caps = capsByBudget.get(budget);
  if (caps === undefined) {
    caps = {
      daily: budget.daily === undefined ? undefined : unitsToNanos(budget.daily),
      monthly: budget.monthly === undefined ? undefined : unitsToNanos(budget.monthly),
    };
    capsByBudget.set(budget, caps);
  }
  return caps;
}
