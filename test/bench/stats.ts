/**
 * Exact percentiles and round aggregation for the benchmark. Exact (sort, nearest rank) rather
 * than a histogram: a run holds at most a few hundred thousand samples, and a p99 read off
 * histogram buckets would blur the sub-millisecond differences the bars are about.
 */

export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of values already sorted ascending; NaN when there are none. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** Sorts a copy (a Float64Array sorts numerically, unlike Array#sort's default). */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
  };
}

/** One figure over the benchmark's rounds: the median is reported, min–max shows the spread. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: readonly number[];
}

/** Median (mean of the middle two for an even count) and range; NaN values are ignored. */
export function spreadOf(rounds: readonly number[]): Spread {
  const kept = rounds.filter((value) => !Number.isNaN(value));
  const sorted = Float64Array.from(kept).sort();
  const n = sorted.length;
  const median = n === 0 ? Number.NaN : n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { median, min: n === 0 ? Number.NaN : sorted[0]!, max: n === 0 ? Number.NaN : sorted[n - 1]!, rounds };
}
