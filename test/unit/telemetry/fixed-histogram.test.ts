import { Histogram, Registry, type OpenMetricsContentType } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderExposition } from '../../../src/telemetry/metrics/exposition.js';
import { FixedHistogram, type ExemplarTrace } from '../../../src/telemetry/metrics/fixed-histogram.js';

const BUCKETS = [0.01, 0.025, 0.1, 1];
const OBSERVATIONS: readonly [Record<'model' | 'replica', string>, number][] = [
  [{ model: 'm', replica: 'a' }, 0.005],
  [{ model: 'm', replica: 'a' }, 0.01],
  [{ model: 'other "quoted"\\name', replica: 'b' }, 0.3],
  [{ model: 'm', replica: 'a' }, 7],
  [{ model: 'm', replica: 'b' }, 0.025],
  [{ model: 'm', replica: 'a' }, 0.1 + 0.2],
];

function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const config = { name: 'x_seconds', help: 'Some "help"\\ text.', labelNames: ['model', 'replica'] as const, buckets: BUCKETS };
  const reference = new Histogram({ ...config, registers: [theirs] });
  const fixed = new FixedHistogram({ ...config, registers: [ours] });
  return { theirs, ours, reference, fixed };
}

describe('FixedHistogram', () => {
  it('renders byte for byte what a prom-client Histogram renders, with observe and observeMany', async () => {
    const { theirs, ours, reference, fixed } = pair();
    for (const [labels, value] of OBSERVATIONS) {
      reference.observe(labels, value);
      fixed.observe(labels, value);
    }
    const gapsMs = [12, 0, 33.3, 2500];
    for (const gap of gapsMs) reference.observe({ model: 'm', replica: 'b' }, gap / 1000);
    fixed.observeMany({ model: 'm', replica: 'b' }, gapsMs, 1000);
    fixed.observeMany({ model: 'never', replica: 'seen' }, [], 1000);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('renders nothing but HELP and TYPE before the first observation and after reset', async () => {
    const { theirs, ours, reference, fixed } = pair();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    reference.observe({ model: 'm', replica: 'a' }, 1);
    fixed.observe({ model: 'm', replica: 'a' }, 1);
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('rejects a value that is not a finite number, as prom-client does', () => {
    const { fixed } = pair();
    expect(() => fixed.observe({ model: 'm', replica: 'a' }, Number.NaN)).toThrow(TypeError);
  });
});

const NOW_MS = 1_763_834_400_123;
const trace = (n: number, options: { withSpan: boolean } = { withSpan: true }): ExemplarTrace => ({
  traceId: `${n}`.padStart(32, 'a'),
  spanId: options.withSpan ? `${n}`.padStart(16, 'b') : undefined,
  epochMs: NOW_MS + n,
});
/** prom-client's typings give exemplar labels the histogram's label names; at run time they are any labels. */
const exemplarLabelsOf = (exemplar: ExemplarTrace) => ({ trace_id: exemplar.traceId, span_id: exemplar.spanId! }) as unknown as Record<'model' | 'replica', string>;
/** Exemplar annotations of an OpenMetrics exposition: `{ line before '#', exemplar after '#' }`. */
const exemplarLines = (exposition: string) =>
  exposition
    .split('\n')
    .filter((line) => line.includes(' # {'))
    .map((line) => ({ sample: line.slice(0, line.indexOf(' # {')), exemplar: line.slice(line.indexOf(' # {') + 3) }));

describe('FixedHistogram exemplars', () => {
  afterEach(() => vi.useRealTimers());

  it('renders in OpenMetrics byte for byte what a prom-client Histogram with exemplars renders: the latest per bucket, +Inf included', async () => {
    const theirs = new Registry<OpenMetricsContentType>();
    theirs.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const ours = new Registry();
    const config = { name: 'x_seconds', help: 'Some help.', labelNames: ['model', 'replica'] as const, buckets: BUCKETS };
    const reference = new Histogram({ ...config, registers: [theirs], enableExemplars: true });
    const fixed = new FixedHistogram({ ...config, registers: [ours] });
    vi.useFakeTimers();
    for (const [n, [labels, value]] of OBSERVATIONS.entries()) {
      const exemplar = trace(n);
      vi.setSystemTime(exemplar.epochMs);
      reference.observe({ labels, value, exemplarLabels: exemplarLabelsOf(exemplar) });
      fixed.observe(labels, value, exemplar);
    }
    // A later observation in the same bucket replaces the earlier exemplar; an untraced one does not.
    vi.setSystemTime(trace(99).epochMs);
    reference.observe({ labels: { model: 'm', replica: 'a' }, value: 0.009, exemplarLabels: exemplarLabelsOf(trace(99)) });
    fixed.observe({ model: 'm', replica: 'a' }, 0.009, trace(99));
    reference.observe({ labels: { model: 'm', replica: 'a' }, value: 0.008 });
    fixed.observe({ model: 'm', replica: 'a' }, 0.008);

    const openMetrics = await renderExposition(ours, 'openmetrics');
    expect(openMetrics).toBe(await theirs.metrics());
    expect(exemplarLines(openMetrics)).toContainEqual({
      sample: 'x_seconds_bucket{le="0.01",model="m",replica="a"} 4',
      exemplar: `{trace_id="${trace(99).traceId}",span_id="${trace(99).spanId}"} 0.009 ${trace(99).epochMs / 1000}`,
    });
    expect(exemplarLines(openMetrics)).toContainEqual({
      sample: 'x_seconds_bucket{le="+Inf",model="m",replica="a"} 6',
      exemplar: `{trace_id="${trace(3).traceId}",span_id="${trace(3).spanId}"} 7 ${trace(3).epochMs / 1000}`,
    });
  });

  it('leaves the Prometheus text exposition exactly as without exemplars', async () => {
    const { theirs, ours, reference, fixed } = pair();
    for (const [n, [labels, value]] of OBSERVATIONS.entries()) {
      reference.observe(labels, value);
      fixed.observe(labels, value, trace(n));
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).not.toContain('trace_id');
  });

  it('gives observeMany one exemplar, on the bucket of its largest value', async () => {
    const { ours, fixed } = pair();
    fixed.observeMany({ model: 'm', replica: 'a' }, [5, 300, 20, 2], 1000, trace(1));
    fixed.observeMany({ model: 'm', replica: 'b' }, [5, 300, 20, 2], 1000);
    expect(exemplarLines(await renderExposition(ours, 'openmetrics'))).toEqual([
      { sample: 'x_seconds_bucket{le="1",model="m",replica="a"} 4', exemplar: `{trace_id="${trace(1).traceId}",span_id="${trace(1).spanId}"} 0.3 ${trace(1).epochMs / 1000}` },
    ]);
  });

  it('names only the trace when there is no span id, and nothing without a trace', async () => {
    const { ours, fixed } = pair();
    fixed.observe({ model: 'm', replica: 'a' }, 0.05, trace(1, { withSpan: false }));
    fixed.observe({ model: 'm', replica: 'b' }, 0.05);
    expect(exemplarLines(await renderExposition(ours, 'openmetrics'))).toEqual([
      { sample: 'x_seconds_bucket{le="0.1",model="m",replica="a"} 1', exemplar: `{trace_id="${trace(1).traceId}"} 0.05 ${trace(1).epochMs / 1000}` },
    ]);
  });

  it('keeps at most one exemplar per bucket and series however many traced observations arrive, and forgets them on reset', async () => {
    const { ours, fixed } = pair();
    for (let n = 0; n < 5_000; n++) fixed.observe({ model: 'm', replica: n % 2 === 0 ? 'a' : 'b' }, (n % 1300) / 1000, trace(n));
    const lines = exemplarLines(await renderExposition(ours, 'openmetrics'));
    expect(lines).toHaveLength(2 * (BUCKETS.length + 1));
    // Each bucket shows its latest: replica a's (even n) last observation of at most 0.01 s was n = 3 * 1300 + 10.
    expect(lines[0]).toEqual({
      sample: 'x_seconds_bucket{le="0.01",model="m",replica="a"} 24',
      exemplar: `{trace_id="${trace(3910).traceId}",span_id="${trace(3910).spanId}"} 0.01 ${trace(3910).epochMs / 1000}`,
    });
    ours.resetMetrics();
    fixed.observe({ model: 'm', replica: 'a' }, 0.5);
    expect(exemplarLines(await renderExposition(ours, 'openmetrics'))).toEqual([]);
  });
});
