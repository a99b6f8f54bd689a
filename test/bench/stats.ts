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

/** The rounds that were measured (not NaN), sorted ascending. */
function sortedRounds(rounds: readonly number[]): Float64Array {
  return Float64Array.from(rounds.filter((value) => !Number.isNaN(value))).sort();
}

/** Median (mean of the middle two for an even count) and range; NaN values are ignored. */
export function spreadOf(rounds: readonly number[]): Spread {
  const sorted = sortedRounds(rounds);
  const n = sorted.length;
  const median = n === 0 ? Number.NaN : n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { median, min: n === 0 ? Number.NaN : sorted[0]!, max: n === 0 ? Number.NaN : sorted[n - 1]!, rounds };
}

/** A distribution-free confidence interval of a median: two order statistics of the rounds. */
export interface MedianInterval {
  readonly low: number;
  readonly high: number;
  /** The interval's exact coverage (at least the confidence asked for, when the rounds allow it). */
  readonly coverage: number;
}

/**
 * The order-statistic interval of the median: [x(k), x(n+1−k)] with the largest k whose two tails
 * of Binomial(n, ½) below k hold at most 1 − confidence together. It assumes only independent
 * rounds, none of the shape of their spread, which on a shared machine is far from normal. With
 * too few rounds for the confidence asked, the whole range and its smaller coverage.
 */
export function medianInterval(rounds: readonly number[], confidence = 0.95): MedianInterval {
  const sorted = sortedRounds(rounds);
  const n = sorted.length;
  if (n === 0) return { low: Number.NaN, high: Number.NaN, coverage: 0 };
  // Walks P(X ≤ i) for X ~ Binomial(n, ½) term by term; k = i + 1 while both tails fit.
  let k = 0;
  let tail = 0;
  let atMost = 0;
  let term = 0.5 ** n;
  for (let i = 0; i < n; i++) {
    atMost += term;
    if (2 * atMost > 1 - confidence) break;
    k = i + 1;
    tail = atMost;
    term = (term * (n - i)) / (i + 1);
  }
  if (k === 0) return { low: sorted[0]!, high: sorted[n - 1]!, coverage: 1 - 2 * 0.5 ** n };
  return { low: sorted[k - 1]!, high: sorted[n - k]!, coverage: 1 - 2 * tail };
}
