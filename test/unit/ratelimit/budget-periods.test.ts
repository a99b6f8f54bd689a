import { describe, expect, it } from 'vitest';
import { unitsToNanos } from '../../../src/cost/cost.js';
import { budgetPeriods, civilFromDays, daysFromCivil } from '../../../src/ratelimit/budget-periods.js';
import { seededRandom } from '../../helpers/seeded-random.js';

describe('budget periods (UTC day, calendar month)', () => {
  it('agrees with Date on the day, the month and when each ends', () => {
    const random = seededRandom(4);
    const samples = [0, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2100, 1, 28, 12)];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(random() * Date.UTC(2200, 0, 1)));
    for (const nowMs of samples) {
      const date = new Date(nowMs);
      const periods = budgetPeriods(nowMs);
      expect(periods.day).toBe(Math.floor(nowMs / 86_400_000));
      expect(periods.month).toBe(date.getUTCFullYear() * 12 + date.getUTCMonth());
      expect(periods.dayEndsAtMs).toBe(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1));
      expect(periods.monthEndsAtMs).toBe(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
    }
  });

  it('rolls the day over at UTC midnight and the month on the first', () => {
    const lastMs = Date.UTC(2026, 0, 31, 23, 59, 59, 999);
    expect(budgetPeriods(lastMs + 1).day).toBe(budgetPeriods(lastMs).day + 1);
    expect(budgetPeriods(lastMs + 1).month).toBe(budgetPeriods(lastMs).month + 1);
    expect(budgetPeriods(Date.UTC(2026, 11, 31, 12)).monthEndsAtMs).toBe(Date.UTC(2027, 0, 1));
  });

  it('civil dates round-trip through day numbers', () => {
    for (let day = -800_000; day < 800_000; day += 997) {
      const { year, month, day: dayOfMonth } = civilFromDays(day);
      expect(daysFromCivil(year, month, dayOfMonth)).toBe(day);
    }
  });

  it('converts a budget in currency units to nano-units exactly', () => {
    expect(unitsToNanos(5.25)).toBe(5_250_000_000n);
    expect(unitsToNanos(0.1)).toBe(100_000_000n);
    expect(unitsToNanos(0.3)).toBe(300_000_000n);
    expect(unitsToNanos(1234.000000001)).toBe(1_234_000_000_001n);
    expect(unitsToNanos(100)).toBe(100_000_000_000n);
    expect(() => unitsToNanos(Number.NaN)).toThrow(RangeError);
  });
});
