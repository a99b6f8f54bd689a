/**
 * Quantiles of a cumulative histogram, computed the way Prometheus's `histogram_quantile` does
 * (linear interpolation inside the bucket that holds the rank), so the report's percentiles are
 * the ones a dashboard shows for the same counts.
 */

/** Cumulative counts by upper bound (`le`), +Inf included. */
export type CumulativeBuckets = ReadonlyMap<number, number>;

function sortedBuckets(buckets: CumulativeBuckets): Array<{ le: number; count: number }> {
  const sorted = [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  // Counts of a sum over series read at slightly different times may dip; Prometheus makes them monotonic too.
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.count < sorted[i - 1]!.count) sorted[i]!.count = sorted[i - 1]!.count;
  return sorted;
}

export function observationCount(buckets: CumulativeBuckets): number {
  return buckets.get(Infinity) ?? 0;
}

/** The q-quantile; undefined without observations or without the +Inf bucket. */
export function histogramQuantile(q: number, buckets: CumulativeBuckets): number | undefined {
  const sorted = sortedBuckets(buckets);
  if (sorted.length < 2 || sorted.at(-1)!.le !== Infinity) return undefined;
  const total = sorted.at(-1)!.count;
  if (total === 0) return undefined;
  let rank = q * total;
  const b = sorted.findIndex((bucket, index) => index === sorted.length - 1 || bucket.count >= rank);
  if (b === sorted.length - 1) return sorted[sorted.length - 2]!.le;
  if (b === 0 && sorted[0]!.le <= 0) return sorted[0]!.le;
  let start = 0;
  let count = sorted[b]!.count;
  if (b > 0) {
    start = sorted[b - 1]!.le;
    count -= sorted[b - 1]!.count;
    rank -= sorted[b - 1]!.count;
  }
  return start + (sorted[b]!.le - start) * (rank / count);
}

/**
 * Observations above `threshold`: exact when the threshold is a bucket boundary, interpolated
 * inside its bucket otherwise (the same assumption as the quantile), and everything beyond the
 * last finite boundary when the threshold lies past it.
 */
export function countAbove(threshold: number, buckets: CumulativeBuckets): number {
  const sorted = sortedBuckets(buckets);
  const total = observationCount(buckets);
  let previous = { le: 0, count: 0 };
  for (const bucket of sorted) {
    if (bucket.le === Infinity) return total - previous.count;
    if (bucket.le >= threshold) {
      const within = bucket.le === previous.le ? 0 : (threshold - previous.le) / (bucket.le - previous.le);
      return total - (previous.count + (bucket.count - previous.count) * Math.max(0, within));
    }
    previous = bucket;
  }
  return 0;
}

/** Bucket increments of several steps summed into one cumulative histogram. */
export function sumBuckets(perBucket: ReadonlyMap<number, readonly number[]>, firstStep: number, endStep: number): Map<number, number> {
  const summed = new Map<number, number>();
  for (const [le, values] of perBucket) {
    let sum = 0;
    for (let k = firstStep; k < endStep; k++) sum += values[k] ?? 0;
    summed.set(le, sum);
  }
  return summed;
}
