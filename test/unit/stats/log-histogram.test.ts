import { describe, expect, it } from 'vitest';
import {
  HistogramLayout,
  LogHistogram,
  TIME_MS_LAYOUT,
  TOKENS_PER_SECOND_LAYOUT,
} from '../../../src/telemetry/stats/log-histogram.js';
import { seededRandom } from './completed-request-factory.js';

function nearestRank(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]!;
}

const QUANTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

describe('HistogramLayout', () => {
  it('covers 0.1 ms to an hour and 0.1 to 100k tokens/s in 4 % buckets', () => {
    expect(TIME_MS_LAYOUT.bucketCount).toBe(446);
    expect(TOKENS_PER_SECOND_LAYOUT.bucketCount).toBe(355);
    expect(TIME_MS_LAYOUT.relativeErrorBound).toBeCloseTo(0.04, 12);
    expect(TIME_MS_LAYOUT.lowerBounds.at(-1)).toBeGreaterThanOrEqual(3_600_000);
  });

  it('places every value inside its bucket, at the edges too', () => {
    const layout = TIME_MS_LAYOUT;
    for (let bucket = 1; bucket < layout.bucketCount; bucket++) {
      const edge = layout.lowerBounds[bucket]!;
      expect(layout.bucketOf(edge)).toBe(bucket);
      expect(layout.bucketOf(edge * (1 - 1e-12))).toBe(bucket - 1);
    }
    expect(layout.bucketOf(0)).toBe(0);
    expect(layout.bucketOf(0.05)).toBe(0);
    expect(layout.bucketOf(1e12)).toBe(layout.bucketCount - 1);
  });

  it('rejects a layout that is not log-spaced', () => {
    expect(() => new HistogramLayout(0, 10, 1.1)).toThrow(RangeError);
    expect(() => new HistogramLayout(1, 10, 1)).toThrow(RangeError);
  });
});

describe('LogHistogram percentiles', () => {
  const distributions: Record<string, (random: () => number) => number> = {
    'log-uniform 0.1 ms to 1 h': (random) => 0.1 * 3.6e7 ** random(),
    'uniform 0 to 2000 ms': (random) => 0.1 + random() * 2000,
    'long tail (exponential, mean 300 ms)': (random) => 0.1 - 300 * Math.log(1 - random()),
  };

  for (const [name, draw] of Object.entries(distributions)) {
    it(`stay within the 4 % bound of exact nearest-rank percentiles: ${name}`, () => {
      const random = seededRandom(42);
      const histogram = new LogHistogram(TIME_MS_LAYOUT, 'cumulative');
      const samples = Array.from({ length: 10_000 }, () => draw(random));
      for (const sample of samples) histogram.record(sample);
      samples.sort((x, y) => x - y);
      for (const q of QUANTILES) {
        const exact = nearestRank(samples, q);
        const estimate = histogram.percentile(q)!;
        expect(Math.abs(estimate - exact) / exact, `q=${q} exact=${exact} estimate=${estimate}`).toBeLessThan(
          TIME_MS_LAYOUT.relativeErrorBound,
        );
      }
      expect(histogram.min).toBe(samples[0]);
      expect(histogram.max).toBe(samples.at(-1));
      expect(histogram.percentile(1)).toBe(samples.at(-1));
      const exactMean = samples.reduce((sum, sample) => sum + sample, 0) / samples.length;
      expect(histogram.mean()!).toBeCloseTo(exactMean, 6);
    });
  }

  it('stays within the bound after merging slot histograms (as a window does)', () => {
    const random = seededRandom(7);
    const merged = new LogHistogram(TOKENS_PER_SECOND_LAYOUT, 'cumulative');
    const samples: number[] = [];
    for (let slot = 0; slot < 30; slot++) {
      const part = new LogHistogram(TOKENS_PER_SECOND_LAYOUT, 'slot');
      for (let i = 0; i < 400; i++) {
        const sample = 5 + random() * 150 * (1 + slot / 10);
        part.record(sample);
        samples.push(sample);
      }
      merged.merge(part);
    }
    samples.sort((x, y) => x - y);
    for (const q of QUANTILES) {
      const exact = nearestRank(samples, q);
      expect(Math.abs(merged.percentile(q)! - exact) / exact).toBeLessThan(0.04);
    }
  });

  it('is exact for a single value and for equal values', () => {
    const histogram = new LogHistogram(TIME_MS_LAYOUT, 'slot');
    histogram.record(123.456);
    expect([histogram.percentile(0.5), histogram.percentile(0.99), histogram.mean()]).toEqual([123.456, 123.456, 123.456]);
    histogram.record(123.456);
    histogram.record(123.456);
    expect(histogram.percentile(0.01)).toBe(123.456);
  });

  it('answers null when empty and ignores values it cannot place', () => {
    const histogram = new LogHistogram(TIME_MS_LAYOUT, 'slot');
    for (const value of [Number.NaN, -1, Number.POSITIVE_INFINITY]) histogram.record(value);
    expect(histogram.count).toBe(0);
    expect(histogram.percentile(0.5)).toBeNull();
    expect(histogram.mean()).toBeNull();
  });

  it('keeps values below the range within `lowest` and above it within [last edge, max]', () => {
    const histogram = new LogHistogram(TIME_MS_LAYOUT, 'slot');
    histogram.record(0);
    histogram.record(0.05);
    expect(histogram.percentile(0.5)!).toBeLessThan(0.1);
    histogram.record(5_000_000);
    histogram.record(9_000_000);
    expect(histogram.percentile(1)).toBe(9_000_000);
    expect(histogram.percentile(0.75)!).toBeGreaterThanOrEqual(TIME_MS_LAYOUT.lowerBounds.at(-1)!);
  });

  it('forgets everything on reset', () => {
    const histogram = new LogHistogram(TIME_MS_LAYOUT, 'slot');
    histogram.record(10);
    histogram.reset();
    expect([histogram.count, histogram.sum, histogram.percentile(0.5)]).toEqual([0, 0, null]);
    expect(histogram.counts.every((count) => count === 0)).toBe(true);
  });
});
