/**
 * Fixed-bucket, log-spaced histograms for percentiles with a known error bound.
 *
 * A layout has bucket 0 = [0, lowest), then buckets [lowest·g^(i-1), lowest·g^i) up to the first
 * bound at or above `highest`, then one overflow bucket [that bound, ∞). A percentile uses the
 * nearest-rank definition (the ⌈q·n⌉-th smallest value): it finds the bucket holding that rank and
 * interpolates linearly inside it, the bucket's edges narrowed to the exact min and max. The
 * estimate and the true value share a bucket, so for values in [lowest, highest] the relative
 * error is below g − 1 (4 % for the layouts below); in bucket 0 the error is below `lowest` in
 * absolute terms; in the overflow bucket the estimate lies between the bucket's lower bound and
 * the exact max. The first and last ranks answer the exact min and max (so a single value is exact).
 */
export class HistogramLayout {
  /** lowerBounds[i] is the lower edge of bucket i; the last bucket has no upper edge. */
  readonly lowerBounds: Float64Array;
  private readonly logGrowth: number;

  constructor(
    readonly lowest: number,
    readonly highest: number,
    readonly growth: number,
  ) {
    if (!(lowest > 0) || !(highest > lowest) || !(growth > 1)) {
      throw new RangeError('HistogramLayout needs 0 < lowest < highest and growth > 1');
    }
    this.logGrowth = Math.log(growth);
    const logBuckets = Math.ceil(Math.log(highest / lowest) / this.logGrowth);
    this.lowerBounds = new Float64Array(logBuckets + 2);
    for (let i = 1; i < this.lowerBounds.length; i++) this.lowerBounds[i] = lowest * growth ** (i - 1);
  }

  get bucketCount(): number {
    return this.lowerBounds.length;
  }

  /** The relative error bound of a percentile of values within [lowest, highest]. */
  get relativeErrorBound(): number {
    return this.growth - 1;
  }

  /** The bucket of a non-negative value (negative and NaN values land in bucket 0). */
  bucketOf(value: number): number {
    const last = this.lowerBounds.length - 1;
    if (!(value >= this.lowest)) return 0;
    let index = Math.floor(Math.log(value / this.lowest) / this.logGrowth) + 1;
    index = Math.min(last, Math.max(1, index));
    // The logarithm can be off by one at a bucket edge; the precomputed bounds decide.
    while (index > 1 && value < this.lowerBounds[index]!) index--;
    while (index < last && value >= this.lowerBounds[index + 1]!) index++;
    return index;
  }

  upperBound(bucket: number): number {
    return this.lowerBounds[bucket + 1] ?? Number.POSITIVE_INFINITY;
  }
}

/** Times in milliseconds: 0.1 ms to one hour, 4 % buckets (446 buckets). */
export const TIME_MS_LAYOUT = new HistogramLayout(0.1, 3_600_000, 1.04);
/** Decoding throughput in tokens per second: 0.1 to 100,000, 4 % buckets (355 buckets). */
export const TOKENS_PER_SECOND_LAYOUT = new HistogramLayout(0.1, 100_000, 1.04);

/**
 * 'slot': 32-bit counts (a 10-second slot never sees 4 billion requests), half the memory;
 * 'cumulative': 64-bit float counts, exact to 2^53, for since-start and merged windows.
 */
export type CountStorage = 'slot' | 'cumulative';

export class LogHistogram {
  readonly counts: Uint32Array | Float64Array;
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(
    readonly layout: HistogramLayout,
    storage: CountStorage,
  ) {
    this.counts = storage === 'slot' ? new Uint32Array(layout.bucketCount) : new Float64Array(layout.bucketCount);
  }

  /** Records a value already placed in its bucket (so one lookup serves several histograms). */
  recordInBucket(bucket: number, value: number): void {
    this.counts[bucket]! += 1;
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Records a finite, non-negative value; anything else is ignored. */
  record(value: number): void {
    if (!isRecordable(value)) return;
    this.recordInBucket(this.layout.bucketOf(value), value);
  }

  merge(other: LogHistogram): void {
    if (other.count === 0) return;
    const counts = this.counts;
    const from = other.counts;
    for (let i = 0; i < counts.length; i++) counts[i]! += from[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    if (this.count === 0) return;
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
  }

  mean(): number | null {
    return this.count === 0 ? null : this.sum / this.count;
  }

  /** The nearest-rank percentile, q in [0, 1]; null when empty. */
  percentile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.min(this.count, Math.max(1, Math.ceil(q * this.count)));
    if (rank === 1) return this.min;
    if (rank === this.count) return this.max;
    let before = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      const inBucket = this.counts[bucket]!;
      if (before + inBucket >= rank) {
        const low = Math.max(this.layout.lowerBounds[bucket]!, this.min);
        const high = Math.min(this.layout.upperBound(bucket), this.max);
        return low + (high - low) * ((rank - before - 0.5) / inBucket);
      }
      before += inBucket;
    }
    return this.max;
  }
}

export function isRecordable(value: number | null): value is number {
  return value !== null && value >= 0 && value !== Number.POSITIVE_INFINITY;
}
