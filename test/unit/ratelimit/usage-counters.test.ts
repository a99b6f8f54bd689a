import { describe, expect, it } from 'vitest';
import { budgetPeriods } from '../../../src/ratelimit/budget-periods.js';
import { parseUsagePeriod, periodEndMs, periodLabel, periodStartMs, usagePeriodsAt, usageRetained, USAGE_RETENTION_MS } from '../../../src/ratelimit/usage-counters.js';

describe('usage periods', () => {
  const now = Date.UTC(2026, 11, 7, 10, 30);

  it('are the budget periods, with their bounds and labels', () => {
    const { day, month } = usagePeriodsAt(now);
    expect(day.index).toBe(budgetPeriods(now).day);
    expect(month.index).toBe(budgetPeriods(now).month);
    expect([periodLabel(day), periodStartMs(day), periodEndMs(day)]).toEqual(['2026-12-07', Date.UTC(2026, 11, 7), Date.UTC(2026, 11, 8)]);
    expect([periodLabel(month), periodStartMs(month), periodEndMs(month)]).toEqual(['2026-12', Date.UTC(2026, 11, 1), Date.UTC(2027, 0, 1)]);
    expect(periodEndMs(month)).toBe(budgetPeriods(now).monthEndsAtMs);
  });

  it('parse from a query date, the current one when absent, and say what is wrong otherwise', () => {
    expect(parseUsagePeriod('day', undefined, now)).toEqual(usagePeriodsAt(now).day);
    expect(parseUsagePeriod('month', '2024-02', now)).toEqual({ kind: 'month', index: 2024 * 12 + 1 });
    const leapDay = parseUsagePeriod('day', '2024-02-29', now);
    expect(typeof leapDay !== 'string' && periodLabel(leapDay)).toBe('2024-02-29');
    expect(parseUsagePeriod('day', '2023-02-29', now)).toBe('date "2023-02-29" is not a day of the calendar');
    expect(parseUsagePeriod('day', '2026-12', now)).toBe('date must be YYYY-MM-DD for period=day, got "2026-12"');
    expect(parseUsagePeriod('month', '2026-12-01', now)).toBe('date must be YYYY-MM for period=month, got "2026-12-01"');
    expect(parseUsagePeriod('month', '2026-00', now)).toBe('date "2026-00" has no month 0');
  });

  it('are kept for their retention after they end', () => {
    const day = usagePeriodsAt(now).day;
    expect(usageRetained(day, periodEndMs(day) + USAGE_RETENTION_MS.day - 1)).toBe(true);
    expect(usageRetained(day, periodEndMs(day) + USAGE_RETENTION_MS.day)).toBe(false);
  });
});
