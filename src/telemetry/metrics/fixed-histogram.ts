import { LabelledMetric, type LabelledMetricConfig } from './labelled-metric.js';
import { seriesKey } from './series-key.js';

/**
 * A fixed-bucket Prometheus histogram for the request path, registered in a prom-client
 * `Registry` like any other metric.
 *
 * Why not prom-client's `Histogram`: its `observe` (even on a `labels()` child) validates and
 * re-hashes the label object on every call, and a 64-chunk stream makes 63 inter-chunk
 * observations. Here a series is found once per call by a key built from the label values, and
 * `observeMany` files a whole array of values into it. The scrape output is byte-identical to
 * prom-client's: `getForPromString` returns the shape its `Histogram` returns (bucket bounds as
 * `labels: { le }`, the series labels as `sharedLabels`, cumulative counts, then `+Inf`, `_sum`,
 * `_count`), series in first-observed order, sums accumulated in the same order.
 *
 * Exemplars: an observation may name the trace it came from; each bucket of a series keeps the
 * latest one (a fixed slot per bucket, written in place, so memory is bounded by the buckets and
 * series), and the buckets carry them in prom-client's exemplar shape. prom-client's Registry
 * writes them only in the OpenMetrics exposition, after `#` on the bucket line.
 */
export interface FixedHistogramConfig<L extends string> extends LabelledMetricConfig<L> {
  /** Upper bounds, ascending (`+Inf` is implicit). */
  readonly buckets: readonly number[];
}

export type HistogramLabels<L extends string> = Readonly<Record<L, string>>;

/** The trace an observation belongs to, and when it was made: what its exemplar says. */
export interface ExemplarTrace {
  readonly traceId: string;
  readonly spanId: string | undefined;
  /** Wall-clock time of the observation, epoch milliseconds (exposed in seconds). */
  readonly epochMs: number;
}

/** prom-client's exemplar shape, as its Registry renders it (timestamp in epoch seconds). */
export interface ExposedExemplar {
  labelSet: Record<string, string>;
  value: number;
  timestamp: number;
}

/** One line of the exposition, as prom-client's Histogram describes it. */
interface ExposedValue {
  labels: Record<string, string | number>;
  /** The series labels (`getForPromString` only; `get` merges them into `labels`). */
  sharedLabels?: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  /** prom-client's shape: the bucket's exemplar or null on bucket lines, undefined on _sum and _count. */
  exemplar: ExposedExemplar | null | undefined;
}

interface Exposition {
  name: string;
  help: string;
  type: 'histogram';
  values: ExposedValue[];
  aggregator: 'sum';
}

interface Series {
  /** The labels as first observed (prom-client keeps the caller's object and its key order too). */
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket, not cumulative; index `bounds.length` counts those above every bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** The latest exemplar per bucket (same indices as `counts`), allocated on the first one. */
  exemplars: Array<ExemplarSlot | undefined> | undefined;
}

/** One bucket's latest exemplar, overwritten in place by the next. */
interface ExemplarSlot {
  traceId: string;
  spanId: string | undefined;
  value: number;
  epochMs: number;
}


export class FixedHistogram<L extends string> extends LabelledMetric<L> {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;
  private series = new Map<string, Series>();

  constructor(config: FixedHistogramConfig<L>) {
    super(config);
    this.bounds = Float64Array.from(config.buckets);
  }

  /** Observes `value`; with `trace`, it also becomes its bucket's exemplar. */
  observe(labels: HistogramLabels<L>, value: number, trace?: ExemplarTrace): void {
    const series = this.seriesFor(labels);
    const bucket = this.add(series, value);
    if (trace !== undefined) keepExemplar(series, this.bounds.length + 1, bucket, value, trace);
  }

  /**
   * Observes every `values[i] / divisor` (a unit change, e.g. ms to seconds) in one series. With
   * `trace`, the largest value becomes its bucket's exemplar: one exemplar per call, and the one
   * an operator looking for slow gaps wants.
   */
  observeMany(labels: HistogramLabels<L>, values: readonly number[], divisor = 1, trace?: ExemplarTrace): void {
    if (values.length === 0) return;
    const series = this.seriesFor(labels);
    if (trace === undefined) {
      for (let i = 0; i < values.length; i++) this.add(series, values[i]! / divisor);
      return;
    }
    let largest = -Infinity;
    let largestBucket = 0;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]! / divisor;
      const bucket = this.add(series, value);
      if (value > largest) {
        largest = value;
        largestBucket = bucket;
      }
    }
    keepExemplar(series, this.bounds.length + 1, largestBucket, largest, trace);
  }

  reset(): void {
    this.series = new Map();
  }

  /** The JSON form (`registry.getMetricsAsJSON()`): series labels merged into each value's labels. */
  async get(): Promise<Exposition> {
    const data = this.exposition();
    for (const value of data.values) {
      Object.assign(value.labels, value.sharedLabels);
      delete value.sharedLabels;
    }
    return data;
  }

  /** What prom-client's Registry renders; same shape as its Histogram.getForPromString(). */
  async getForPromString(): Promise<Exposition> {
    return this.exposition();
  }

  private exposition(): Exposition {
    const bucketName = `${this.name}_bucket`;
    const values: ExposedValue[] = [];
    const pair = (
      labels: ExposedValue['labels'],
      value: number,
      metricName: string,
      sharedLabels: ExposedValue['sharedLabels'],
      exemplar: ExposedValue['exemplar'],
    ): ExposedValue => ({ labels, sharedLabels, value, metricName, exemplar });
    for (const series of this.series.values()) {
      const exemplars = series.exemplars;
      const exemplarOf = (bucket: number): ExposedExemplar | null => (exemplars === undefined ? null : exposeExemplar(exemplars[bucket]));
      let cumulative = 0;
      for (let b = 0; b < this.bounds.length; b++) {
        cumulative += series.counts[b]!;
        values.push(pair({ le: this.bounds[b]! }, cumulative, bucketName, series.labels, exemplarOf(b)));
      }
      values.push(pair({ le: '+Inf' }, series.count, bucketName, series.labels, exemplarOf(this.bounds.length)));
      values.push(pair({}, series.sum, `${this.name}_sum`, series.labels, undefined));
      values.push(pair({}, series.count, `${this.name}_count`, series.labels, undefined));
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  private seriesFor(labels: HistogramLabels<L>): Series {
    const key = seriesKey(this.labelNames, labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0, exemplars: undefined };
      this.series.set(key, series);
    }
    return series;
  }

  /** One observation, filed as prom-client does: the first bucket whose bound is >= the value. Returns that bucket. */
  private add(series: Series, value: number): number {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && value > bounds[b]!) b++;
    series.counts[b]!++;
    series.sum += value;
    series.count += 1;
    return b;
  }
}

function keepExemplar(series: Series, bucketCount: number, bucket: number, value: number, trace: ExemplarTrace): void {
  series.exemplars ??= new Array<ExemplarSlot | undefined>(bucketCount).fill(undefined);
  const slot = series.exemplars[bucket];
  if (slot === undefined) {
    series.exemplars[bucket] = { traceId: trace.traceId, spanId: trace.spanId, value, epochMs: trace.epochMs };
    return;
  }
  slot.traceId = trace.traceId;
  slot.spanId = trace.spanId;
  slot.value = value;
  slot.epochMs = trace.epochMs;
}

function exposeExemplar(slot: ExemplarSlot | undefined): ExposedExemplar | null {
  if (slot === undefined) return null;
  const labelSet: Record<string, string> = slot.spanId === undefined ? { trace_id: slot.traceId } : { trace_id: slot.traceId, span_id: slot.spanId };
  return { labelSet, value: slot.value, timestamp: slot.epochMs / 1000 };
}
