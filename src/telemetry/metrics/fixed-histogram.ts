import type { Metric, Registry } from 'prom-client';

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
 */
export interface FixedHistogramConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Upper bounds, ascending (`+Inf` is implicit). */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

export type HistogramLabels<L extends string> = Readonly<Record<L, string>>;

/** One line of the exposition, as prom-client's Histogram describes it. */
interface ExposedValue {
  labels: Record<string, string | number>;
  /** The series labels (`getForPromString` only; `get` merges them into `labels`). */
  sharedLabels?: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  /** prom-client's shape: null on bucket lines, undefined on _sum and _count (no exemplars here). */
  exemplar: null | undefined;
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
}

/** Separates label values in a series key; label values are bounded names that never contain it. */
const KEY_SEPARATOR = '\u0000';

export class FixedHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly L[];
  private readonly bounds: Float64Array;
  private series = new Map<string, Series>();

  constructor(config: FixedHistogramConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    this.bounds = Float64Array.from(config.buckets);
    // prom-client's Registry only calls name/help/type/aggregator, get(), getForPromString() and reset().
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  observe(labels: HistogramLabels<L>, value: number): void {
    this.add(this.seriesFor(labels), value);
  }

  /** Observes every `values[i] / divisor` (a unit change, e.g. ms to seconds) in one series. */
  observeMany(labels: HistogramLabels<L>, values: readonly number[], divisor = 1): void {
    if (values.length === 0) return;
    const series = this.seriesFor(labels);
    for (let i = 0; i < values.length; i++) this.add(series, values[i]! / divisor);
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
    const pair = (labels: ExposedValue['labels'], value: number, metricName: string, sharedLabels: ExposedValue['sharedLabels']): ExposedValue => ({
      labels,
      sharedLabels,
      value,
      metricName,
      exemplar: metricName === bucketName ? null : undefined,
    });
    for (const series of this.series.values()) {
      let cumulative = 0;
      for (let b = 0; b < this.bounds.length; b++) {
        cumulative += series.counts[b]!;
        values.push(pair({ le: this.bounds[b]! }, cumulative, bucketName, series.labels));
      }
      values.push(pair({ le: '+Inf' }, series.count, bucketName, series.labels));
      values.push(pair({}, series.sum, `${this.name}_sum`, series.labels));
      values.push(pair({}, series.count, `${this.name}_count`, series.labels));
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  private seriesFor(labels: HistogramLabels<L>): Series {
    const key = this.keyOf(labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    return series;
  }

  private keyOf(labels: HistogramLabels<L>): string {
    const names = this.labelNames;
    if (names.length === 1) return labels[names[0]!];
    let key = '';
    for (let i = 0; i < names.length; i++) key += (i === 0 ? '' : KEY_SEPARATOR) + labels[names[i]!];
    return key;
  }

  /** One observation, filed as prom-client does: the first bucket whose bound is >= the value. */
  private add(series: Series, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && value > bounds[b]!) b++;
    series.counts[b]!++;
    series.sum += value;
    series.count += 1;
  }
}
