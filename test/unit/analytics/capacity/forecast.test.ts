import { describe, expect, it } from 'vitest';
import { fitSmoothing, forecastAt, stepsUntil } from '../../../../src/analytics/capacity/forecast.js';
import { seededRandom } from '../../../helpers/seeded-random.js';

describe('Holt (double exponential smoothing)', () => {
  it('follows a straight line exactly and extrapolates it', () => {
    const series = Array.from({ length: 50 }, (_, i) => 10 + 0.5 * i);
    const fit = fitSmoothing(series);
    expect(fit.seasonal).toBe(false);
    expect(fit.level).toBeCloseTo(10 + 0.5 * 49, 9);
    expect(fit.trend).toBeCloseTo(0.5, 9);
    expect(forecastAt(fit, 10)).toBeCloseTo(10 + 0.5 * 59, 9);
    // 40 is reached 21 steps after the last point (34.5 + 0.5·11 = 40).
    expect(stepsUntil(fit, 40, 100)).toBe(11);
  });

  it('recovers the trend of a noisy line within 10 %', () => {
    const random = seededRandom(3);
    const series = Array.from({ length: 400 }, (_, i) => 50 + 0.2 * i + (random() - 0.5) * 4);
    const fit = fitSmoothing(series);
    expect(fit.trend).toBeGreaterThan(0.18);
    expect(fit.trend).toBeLessThan(0.22);
    expect(fit.rmse).toBeLessThan(2);
  });

  it('says never (null) for a flat or falling series below the limit, and 0 once above it', () => {
    const flat = fitSmoothing([5, 5, 5, 5, 5, 5, 5]);
    expect(stepsUntil(flat, 6, 1000)).toBeNull();
    const falling = fitSmoothing([9, 8, 7, 6, 5, 4, 3]);
    expect(stepsUntil(falling, 10, 1000)).toBeNull();
    expect(stepsUntil(flat, 4, 1000)).toBe(0);
  });

  it('refuses too short or non-finite series', () => {
    expect(() => fitSmoothing([1, 2])).toThrow(RangeError);
    expect(() => fitSmoothing([1, 2, Number.NaN])).toThrow(RangeError);
  });
});

describe('Holt–Winters (additive season)', () => {
  const period = 24;
  const series = Array.from({ length: period * 6 }, (_, i) => 100 + 0.1 * i + 30 * Math.sin((2 * Math.PI * i) / period));

  it('is used with two seasons of history and forecasts the cycle on top of the trend', () => {
    const fit = fitSmoothing(series, { seasonLength: period });
    expect(fit.seasonal).toBe(true);
    for (const step of [1, 6, 12, 18, 30]) {
      const i = series.length - 1 + step;
      // Within 3 (2 % of the level, a tenth of the amplitude).
      expect(Math.abs(forecastAt(fit, step) - (100 + 0.1 * i + 30 * Math.sin((2 * Math.PI * i) / period)))).toBeLessThan(3);
    }
    expect(Math.abs(fit.trend - 0.1)).toBeLessThan(0.02);
  });

  it('finds a breach at the next seasonal peak that the trend alone would reach much later', () => {
    const seasonal = fitSmoothing(series, { seasonLength: period });
    const peakNext = Math.max(...Array.from({ length: period }, (_, k) => forecastAt(seasonal, k + 1)));
    const steps = stepsUntil(seasonal, peakNext - 1, 1000)!;
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThanOrEqual(period);
  });

  it('falls back to Holt with less than two seasons', () => {
    expect(fitSmoothing(series.slice(0, period + 5), { seasonLength: period }).seasonal).toBe(false);
  });
});
