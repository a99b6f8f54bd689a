import { describe, expect, it } from 'vitest';
import { countAbove, histogramQuantile } from '../../../src/analytics/report/histogram.js';
import { stepIncrements, sumIncrements, windowSpans } from '../../../src/analytics/report/series.js';

const grid = { startSeconds: 0, stepSeconds: 60, steps: 3 };
const at = (date: string) => Date.parse(date) / 1000;

describe('stepIncrements', () => {
  it('differences a counter per step', () => {
    expect(stepIncrements({ labels: {}, points: [[0, 10], [60, 15], [120, 21], [180, 21]] }, grid)).toEqual([5, 6, 0]);
  });

  it('counts the whole value after a reset (the process restarted)', () => {
    expect(stepIncrements({ labels: {}, points: [[0, 10], [60, 15], [120, 3], [180, 8]] }, grid)).toEqual([5, 3, 5]);
  });

  it('counts a series created after the first point from zero', () => {
    expect(stepIncrements({ labels: {}, points: [[120, 4], [180, 6]] }, grid)).toEqual([0, 4, 2]);
  });

  it('keeps the last value across a gap', () => {
    expect(stepIncrements({ labels: {}, points: [[0, 1], [60, 3], [180, 10]] }, grid)).toEqual([2, 0, 7]);
  });

  it('sums series per key and leaves out the unkeyed', () => {
    const sums = sumIncrements(
      [
        { labels: { model: 'a' }, points: [[0, 0], [60, 1], [120, 2], [180, 3]] },
        { labels: { model: 'a' }, points: [[0, 0], [60, 10], [120, 20], [180, 30]] },
        { labels: {}, points: [[0, 0], [60, 100], [120, 200], [180, 300]] },
      ],
      grid,
      (labels) => labels.model,
    );
    expect([...sums]).toEqual([['a', [11, 11, 11]]]);
  });
});

describe('windowSpans', () => {
  const across = { startSeconds: at('2026-11-30T23:00:00Z'), stepSeconds: 1800, steps: 4 };

  it('cuts hours, days and months in UTC and marks the clipped ones partial', () => {
    expect(windowSpans(across, 'hourly').map((span) => [span.firstStep, span.endStep, span.partial])).toEqual([
      [0, 2, false],
      [2, 4, false],
    ]);
    const days = windowSpans(across, 'daily');
    expect(days.map((span) => [new Date(span.startSeconds * 1000).toISOString(), new Date(span.endSeconds * 1000).toISOString(), span.firstStep, span.endStep, span.partial])).toEqual([
      ['2026-11-30T23:00:00.000Z', '2026-12-01T00:00:00.000Z', 0, 2, true],
      ['2026-12-01T00:00:00.000Z', '2026-12-01T01:00:00.000Z', 2, 4, true],
    ]);
    expect(windowSpans(across, 'monthly').map((span) => [span.firstStep, span.endStep])).toEqual([
      [0, 2],
      [2, 4],
    ]);
  });
});

describe('histogramQuantile (Prometheus semantics)', () => {
  const buckets = new Map([
    [0.5, 0],
    [1, 80],
    [2, 100],
    [Infinity, 100],
  ]);

  it('interpolates linearly inside the bucket holding the rank', () => {
    expect(histogramQuantile(0.5, buckets)).toBe(0.5 + 0.5 * (50 / 80));
    expect(histogramQuantile(0.99, buckets)).toBe(1 + (99 - 80) / 20);
  });

  it('answers the last finite bound when the rank lies in +Inf, and nothing without observations', () => {
    expect(histogramQuantile(0.95, new Map([[1, 90], [Infinity, 100]]))).toBe(1);
    expect(histogramQuantile(0.5, new Map([[1, 0], [Infinity, 0]]))).toBeUndefined();
    expect(histogramQuantile(0.5, new Map([[1, 3]]))).toBeUndefined();
  });

  it('counts observations above a boundary exactly and inside a bucket by interpolation', () => {
    expect(countAbove(1, buckets)).toBe(20);
    expect(countAbove(1.5, buckets)).toBe(10);
    expect(countAbove(5, buckets)).toBe(0);
    expect(countAbove(5, new Map([[2, 90], [Infinity, 100]]))).toBe(10);
  });
});
