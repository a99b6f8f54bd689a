import { describe, expect, it } from 'vitest';
import { forecastPeriod, monthStartMs, SpendRateTracker } from '../../../src/ratelimit/budget-forecast.js';
import { buildBudgetState, KEY_BUDGET_RATIOS, type BudgetedKey, type KeySpend } from '../../../src/ratelimit/budget-report.js';

const UNIT = 1_000_000_000n;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);

describe('SpendRateTracker', () => {
  it('has no rate from a single reading, and a linear one from two', () => {
    const rates = new SpendRateTracker(HOUR);
    rates.record('k', at('2026-03-10T10:00:00Z'), 0n);
    expect(rates.ratePerSecond('k')).toBeUndefined();
    rates.record('k', at('2026-03-10T10:01:00Z'), 60n * UNIT);
    expect(rates.ratePerSecond('k')).toBe(Number(UNIT));
  });

  it('is zero when nothing is spent (so nothing runs out)', () => {
    const rates = new SpendRateTracker(HOUR);
    for (let minute = 0; minute <= 10; minute += 1) rates.record('k', at('2026-03-10T10:00:00Z') + minute * MINUTE, 5n * UNIT);
    expect(rates.ratePerSecond('k')).toBe(0);
    const forecast = forecastPeriod(5n * UNIT, 10n * UNIT, rates.ratePerSecond('k'), at('2026-03-10T10:10:00Z'), at('2026-03-11T00:00:00Z'));
    expect(forecast.exhaustsInSeconds).toBeUndefined();
    expect(forecast.projectedRatio).toBe(0.5);
  });

  it('measures over the trailing window only: an old burst stops counting once it leaves the window', () => {
    const rates = new SpendRateTracker(10 * MINUTE);
    const start = at('2026-03-10T10:00:00Z');
    // 100 units in the first minute, then 1 unit a minute.
    rates.record('k', start, 0n);
    rates.record('k', start + MINUTE, 100n * UNIT);
    for (let minute = 2; minute <= 30; minute += 1) rates.record('k', start + minute * MINUTE, (100n + BigInt(minute - 1)) * UNIT);
    expect(rates.ratePerSecond('k')).toBeCloseTo(Number(UNIT) / 60, 0);
  });

  it('keeps a bounded number of samples however often it reads', () => {
    const rates = new SpendRateTracker(HOUR);
    const start = at('2026-03-10T10:00:00Z');
    for (let second = 0; second <= 7200; second += 1) rates.record('k', start + second * 1000, BigInt(second) * UNIT);
    expect(rates.ratePerSecond('k')).toBeCloseTo(Number(UNIT), 0);
    expect(rates.size).toBe(1);
  });

  it('goes on across a day boundary (the month counter keeps growing)', () => {
    const rates = new SpendRateTracker(HOUR);
    rates.record('k', at('2026-03-10T23:30:00Z'), 100n * UNIT);
    rates.record('k', at('2026-03-11T00:30:00Z'), 160n * UNIT);
    expect(rates.ratePerSecond('k')).toBeCloseTo(Number(60n * UNIT) / 3600, 6);
  });

  it('restarts at a month boundary from the month start, where the counter was 0', () => {
    const rates = new SpendRateTracker(HOUR);
    rates.record('k', at('2026-03-31T23:50:00Z'), 900n * UNIT);
    rates.record('k', at('2026-04-01T00:10:00Z'), 6n * UNIT);
    // 6 units in the 10 minutes since April began, not (6 - 900) / 20 minutes.
    expect(rates.ratePerSecond('k')).toBeCloseTo(Number(6n * UNIT) / 600, 6);
  });

  it('forgets keys that lost their budget', () => {
    const rates = new SpendRateTracker(HOUR);
    rates.record('a', 0, 0n);
    rates.record('b', 0, 0n);
    rates.retain(new Set(['a']));
    expect(rates.size).toBe(1);
  });
});

describe('monthStartMs', () => {
  it('is the first millisecond of the UTC month, leap years included', () => {
    expect(monthStartMs(at('2028-02-29T23:59:59.999Z'))).toBe(at('2028-02-01T00:00:00Z'));
    expect(monthStartMs(at('2026-01-01T00:00:00Z'))).toBe(at('2026-01-01T00:00:00Z'));
    expect(monthStartMs(at('2026-12-31T12:00:00Z'))).toBe(at('2026-12-01T00:00:00Z'));
  });
});

describe('forecastPeriod', () => {
  const now = at('2026-03-10T12:00:00Z');
  const dayEnd = at('2026-03-11T00:00:00Z');

  it('says when the cap is reached at the current rate', () => {
    // 4 of 10 spent, 1 unit per hour: 6 hours left, before midnight (12 hours away).
    const forecast = forecastPeriod(4n * UNIT, 10n * UNIT, Number(UNIT) / 3600, now, dayEnd);
    expect(forecast.spentRatio).toBe(0.4);
    expect(forecast.exhausted).toBe(false);
    expect(forecast.exhaustsInSeconds).toBeCloseTo(6 * 3600, 6);
    expect(forecast.projectedRatio).toBeCloseTo(1.6, 9);
  });

  it('forecasts no exhaustion when the period ends first', () => {
    // 1 unit per hour, 8 units left, 12 hours to midnight: 8 hours.
    expect(forecastPeriod(2n * UNIT, 10n * UNIT, Number(UNIT) / 3600, now, dayEnd).exhaustsInSeconds).toBeCloseTo(8 * 3600, 6);
    // 0.5 unit per hour: 16 hours needed, midnight comes first.
    const forecast = forecastPeriod(2n * UNIT, 10n * UNIT, Number(UNIT) / 7200, now, dayEnd);
    expect(forecast.exhaustsInSeconds).toBeUndefined();
    expect(forecast.projectedRatio).toBeCloseTo(0.8, 9);
  });

  it('says 0 once the cap is reached, rate or not', () => {
    const forecast = forecastPeriod(10n * UNIT, 10n * UNIT, undefined, now, dayEnd);
    expect(forecast.exhausted).toBe(true);
    expect(forecast.exhaustsInSeconds).toBe(0);
    expect(forecast.projectedRatio).toBeUndefined();
  });

  it('forecasts nothing without a rate yet', () => {
    const forecast = forecastPeriod(9n * UNIT, 10n * UNIT, undefined, now, dayEnd);
    expect(forecast.exhaustsInSeconds).toBeUndefined();
    expect(forecast.projectedRatio).toBeUndefined();
  });
});

describe('buildBudgetState', () => {
  const now = at('2026-03-10T12:00:00Z');
  const keys: BudgetedKey[] = [
    { keyId: 'a1', tenant: 'acme', budget: { daily: 10, monthly: 100 } },
    { keyId: 'a2', tenant: 'acme', budget: { daily: 10 } },
    { keyId: 'z1', tenant: 'zeta', budget: { monthly: 50 } },
    { keyId: 'q1', tenant: 'quiet', budget: { daily: 1 } },
  ];
  const spends = new Map<string, KeySpend>([
    ['a1', { daySpentNanos: 9n * UNIT, monthSpentNanos: 40n * UNIT }],
    ['a2', { daySpentNanos: 1n * UNIT, monthSpentNanos: 1n * UNIT }],
    ['z1', { daySpentNanos: 5n * UNIT, monthSpentNanos: 50n * UNIT }],
  ]);
  const rates: Record<string, number | undefined> = { a1: Number(UNIT) / 3600, a2: 0, z1: undefined, q1: undefined };
  const state = buildBudgetState({
    keys,
    reading: { atMs: now, store: 'redis', spends },
    rateOf: (keyId) => rates[keyId],
    tenantLabel: (tenant) => (tenant === 'acme' ? 'acme' : 'other'),
    currency: 'USD',
    refreshIntervalMs: 30_000,
    rateWindowMs: HOUR,
  });

  it('shows each key per period, with its forecast', () => {
    const a1 = state.report.keys['a1']!;
    expect(a1.spend_per_hour).toBe('1');
    expect(a1.day).toEqual({
      budget: '10',
      spent: '9',
      spent_percent: 90,
      exhausted: false,
      exhausts_in_seconds: 3600,
      exhausts_at: '2026-03-10T13:00:00.000Z',
      projected_percent: 210,
      resets_at: '2026-03-11T00:00:00.000Z',
    });
    // 60 units left at 1 unit an hour: 60 hours, well before April.
    expect(a1.month).toMatchObject({ spent_percent: 40, exhausts_in_seconds: 216_000, resets_at: '2026-04-01T00:00:00.000Z' });
    expect(state.report.keys['a2']!.month).toBeNull();
    expect(state.report.keys['z1']!.month).toMatchObject({ exhausted: true, exhausts_in_seconds: 0, projected_percent: null });
    expect(state.report.keys['q1']!.day).toMatchObject({ spent: '0', spent_percent: 0, exhausts_in_seconds: null });
  });

  it('adds a tenant up from its keys', () => {
    expect(state.report.tenants['acme']).toMatchObject({ keys: 2, spend_per_hour: '1', day: { budget: '20', spent: '10', spent_percent: 50, exhausts_in_seconds: 36_000 } });
    expect(Object.keys(state.report.tenants)).toEqual(['acme', 'quiet', 'zeta']);
  });

  it('labels the gauges by declared tenant only, and counts keys per share of their budget', () => {
    expect(state.gauges.map((row) => [row.tenant, row.period])).toEqual([
      ['acme', 'day'],
      ['acme', 'month'],
      ['other', 'day'],
      ['other', 'month'],
    ]);
    const acmeDay = state.gauges[0]!;
    expect(acmeDay).toMatchObject({ spentRatio: 0.5, keys: 2, keysForecastExhausted: 1 });
    expect(KEY_BUDGET_RATIOS.map((ratio, index) => [ratio, acmeDay.keysAtOrAbove[index]])).toEqual([
      [0.5, 1],
      [0.8, 1],
      [0.9, 1],
      [1, 0],
    ]);
    const otherMonth = state.gauges[3]!;
    expect(otherMonth).toMatchObject({ spentRatio: 1, exhaustsInSeconds: 0, keys: 1, keysForecastExhausted: 1 });
    expect(otherMonth.keysAtOrAbove).toEqual([1, 1, 1, 1]);
  });
});
