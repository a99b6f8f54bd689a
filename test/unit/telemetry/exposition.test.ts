import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  contentTypeOf,
  negotiateExposition,
  renderExposition,
} from '../../../src/telemetry/metrics/exposition.js';
import { FixedHistogram } from '../../../src/telemetry/metrics/fixed-histogram.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';

/** What Prometheus 2.42 (the Debian package the integration test scrapes with) sends. */
const PROMETHEUS_2_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
/** What Prometheus 3 sends with its default scrape protocols. */
const PROMETHEUS_3_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';

describe('negotiateExposition', () => {
  it.each([
    [undefined, 'prometheus'],
    ['', 'prometheus'],
    ['*/*', 'prometheus'],
    ['text/plain;version=0.0.4', 'prometheus'],
    ['application/json', 'prometheus'],
    ['application/openmetrics-text', 'openmetrics'],
    ['Application/OpenMetrics-Text; version=1.0.0', 'openmetrics'],
    ['application/openmetrics-text;version=0.0.1', 'openmetrics'],
    [PROMETHEUS_2_ACCEPT, 'openmetrics'],
    [PROMETHEUS_3_ACCEPT, 'openmetrics'],
    ['text/plain, application/openmetrics-text;q=0.9', 'prometheus'],
    ['text/plain;q=0.2, application/openmetrics-text;q=0.9', 'openmetrics'],
    ['application/openmetrics-text;q=0', 'prometheus'],
    ['application/openmetrics-text;q=0.5, */*', 'prometheus'],
    ['application/openmetrics-text;q=0.5, text/plain;q=0.1, */*', 'openmetrics'],
    ['application/openmetrics-text;q=nonsense', 'prometheus'],
  ] as const)('%j → %s', (accept, format) => {
    expect(negotiateExposition(accept)).toBe(format);
  });

  it('names the content type of each format', () => {
    expect(contentTypeOf('openmetrics')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(contentTypeOf('prometheus')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect([OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE]).toEqual([contentTypeOf('openmetrics'), contentTypeOf('prometheus')]);
  });
});

function mixedRegistry() {
  const registry = new Registry();
  const requests = new Counter({ name: 'x_requests_total', help: 'Requests.', labelNames: ['outcome'] as const, registers: [registry] });
  const collected = new Counter({
    name: 'x_ejections_total',
    help: 'Counted at scrape time.',
    labelNames: ['replica'] as const,
    registers: [registry],
    collect() {
      this.inc({ replica: 'a' }, 0);
    },
  });
  new Gauge({ name: 'x_build_info', help: 'Always 1.', labelNames: ['version'] as const, registers: [registry] }).set({ version: '1.2.3' }, 1);
  const latency = new FixedHistogram({ name: 'x_latency_seconds', help: 'Latency.', labelNames: ['model'] as const, buckets: [0.1, 1], registers: [registry] });
  requests.inc({ outcome: 'success' }, 3);
  latency.observe({ model: 'm' }, 0.5, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', epochMs: 1_700_000_000_250 });
  latency.observe({ model: 'm' }, 0.05);
  return { registry, requests, collected };
}

describe('renderExposition', () => {
  it('writes OpenMetrics 1.0: counter families without _total and samples with it, exemplars on buckets, # EOF', async () => {
    const { registry } = mixedRegistry();
    expect(await renderExposition(registry, 'openmetrics')).toBe(
      [
        '# HELP x_requests Requests.',
        '# TYPE x_requests counter',
        'x_requests_total{outcome="success"} 3',
        '# HELP x_ejections Counted at scrape time.',
        '# TYPE x_ejections counter',
        'x_ejections_total{replica="a"} 0',
        '# HELP x_build_info Always 1.',
        '# TYPE x_build_info gauge',
        'x_build_info{version="1.2.3"} 1',
        '# HELP x_latency_seconds Latency.',
        '# TYPE x_latency_seconds histogram',
        'x_latency_seconds_bucket{le="0.1",model="m"} 1',
        'x_latency_seconds_bucket{le="1",model="m"} 2 # {trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"} 0.5 1700000000.25',
        'x_latency_seconds_bucket{le="+Inf",model="m"} 2',
        'x_latency_seconds_sum{model="m"} 0.55',
        'x_latency_seconds_count{model="m"} 2',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('leaves the Prometheus exposition and the counters themselves untouched by OpenMetrics scrapes (prom-client renames counters it renders)', async () => {
    const { registry, requests, collected } = mixedRegistry();
    const before = await registry.metrics();
    expect(before).toContain('# TYPE x_requests_total counter\nx_requests_total{outcome="success"} 3');
    await Promise.all([renderExposition(registry, 'openmetrics'), renderExposition(registry, 'prometheus'), renderExposition(registry, 'openmetrics')]);
    expect(await renderExposition(registry, 'prometheus')).toBe(before);
    expect(((requests as unknown as { name: string }).name)).toBe('x_requests_total');
    expect(((collected as unknown as { name: string }).name)).toBe('x_ejections_total');
    expect(registry.contentType).toBe(PROMETHEUS_CONTENT_TYPE);
  });

  it("writes every Tollbooth instrument's HELP in a form OpenMetrics accepts (no unescaped double quote)", async () => {
    const registry = new Registry();
    createInstruments(registry, { replicas: () => [] }, '0.0.0');
    const openMetrics = await renderExposition(registry, 'openmetrics');
    const helpLines = openMetrics.split('\n').filter((line) => line.startsWith('# HELP '));
    expect(helpLines.length).toBeGreaterThan(20);
    for (const line of helpLines) expect(line).not.toMatch(/(^|[^\\])"/);
    const families = openMetrics.split('\n').filter((line) => line.startsWith('# TYPE ') && line.endsWith(' counter'));
    for (const line of families) expect(line).not.toMatch(/_total counter$/);
  });
});
