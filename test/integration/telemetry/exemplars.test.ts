import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFleet, type TestFleet } from '../../helpers/fleet.js';
import { promtoolCheckMetrics, sampleSum } from '../../helpers/promtool.js';
import { REQUEST_LATENCY_BUCKETS, TOKEN_LATENCY_BUCKETS, TTFT_BUCKETS } from '../../../src/telemetry/metrics/instruments.js';
import { startPrometheus, type ExemplarSeries, type PrometheusServer } from './prometheus-server.js';

/**
 * The test's stand-in for tracing: an onRequest hook, right after the observation opens, copies
 * `x-test-trace-id` / `x-test-span-id` into `observation.traceId` / `spanId`, the fields the
 * tracing code fills for sampled requests. Everything after that (recorder, histograms, /metrics,
 * Prometheus) is the real path.
 */
vi.mock(import('../../../src/lifecycle/request-hooks.js'), async (importOriginal) => {
  const original = await importOriginal();
  return {
    ...original,
    openRequestLifecycle: (...args) => {
      original.openRequestLifecycle(...args);
      const [app] = args;
      app.addHook('onRequest', (request, _reply, done) => {
        const traceId = request.headers['x-test-trace-id'];
        const spanId = request.headers['x-test-span-id'];
        if (typeof traceId === 'string') request.observation.traceId = traceId;
        if (typeof spanId === 'string') request.observation.spanId = spanId;
        done();
      });
    },
  };
});

const TOKEN = 'exemplar-scrape-token-0123456789';
const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

interface SentRequest {
  readonly requestId: string;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  readonly stream: boolean;
  access: Record<string, unknown>;
}

interface ExemplarLine {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly traceId: string;
  readonly spanId: string;
  readonly value: number;
  readonly timestamp: number;
}

let fleet: TestFleet;
let prometheus: PrometheusServer | undefined;
let openMetrics: { contentType: string | null; vary: string | null; text: string };
let prometheusText: { contentType: string | null; text: string };
const sent: SentRequest[] = [];

const traceIdOf = (n: number) => `${n.toString(16).padStart(2, '0')}f92f3577b34da6a3ce929d0e0e4736`;
const spanIdOf = (n: number) => `${n.toString(16).padStart(2, '0')}f067aa0ba902b7`;

/**
 * One request at a time, each finished (its access line written) before the next, so "the latest
 * exemplar per bucket" has one meaning. TTFTs are chosen to fall into distinct buckets, two of them
 * into the same one; one untraced request has a bucket of its own.
 */
async function sendRequests(): Promise<void> {
  const sdk = new OpenAI({ baseURL: `${fleet.gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const plan: Array<{ ttftMs: number; itlMs: number; traced: boolean; stream: boolean }> = [
    { ttftMs: 150, itlMs: 2, traced: true, stream: true },
    { ttftMs: 160, itlMs: 2, traced: true, stream: true },
    { ttftMs: 400, itlMs: 30, traced: true, stream: true },
    { ttftMs: 600, itlMs: 5, traced: true, stream: true },
    { ttftMs: 1200, itlMs: 5, traced: false, stream: true },
    { ttftMs: 50, itlMs: 2, traced: true, stream: false },
  ];
  for (const [n, step] of plan.entries()) {
    const requestId = `exemplar-${n}`;
    const traceId = step.traced ? traceIdOf(n) : undefined;
    const spanId = step.traced ? spanIdOf(n) : undefined;
    const headers: Record<string, string> = {
      'x-request-id': requestId,
      'x-sim-tokens': '6',
      'x-sim-ttft-ms': String(step.ttftMs),
      'x-sim-itl-ms': String(step.itlMs),
      ...(traceId === undefined ? {} : { 'x-test-trace-id': traceId, 'x-test-span-id': spanId! }),
    };
    const body = { model: 'test-model', messages: [{ role: 'user' as const, content: 'hello there' }], max_tokens: 6 };
    if (step.stream) {
      const stream = await sdk.chat.completions.create({ ...body, stream: true }, { headers });
      for await (const chunk of stream) void chunk;
    } else {
      await sdk.chat.completions.create(body, { headers });
    }
    sent.push({ requestId, traceId, spanId, stream: step.stream, access: await fleet.gateway.accessLineOf(requestId) });
  }
}

/** The exemplars of an OpenMetrics exposition, parsed from `sample{labels} value # {labels} value timestamp`. */
function exemplarsOf(exposition: string, name: string): ExemplarLine[] {
  const lines: ExemplarLine[] = [];
  for (const line of exposition.split('\n')) {
    const match = /^(\w+)\{([^}]*)\} \S+ # \{trace_id="([0-9a-f]+)",span_id="([0-9a-f]+)"\} (\S+) (\S+)$/.exec(line);
    if (match === null || match[1] !== `${name}_bucket`) continue;
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1]!, pair[2]!]));
    lines.push({ name: match[1]!, labels, traceId: match[3]!, spanId: match[4]!, value: Number(match[5]), timestamp: Number(match[6]) });
  }
  return lines;
}

/**
 * What the exposition must show for one histogram: for every bucket a traced request fell in,
 * the latest such request, with its exact value; buckets only untraced requests fell in, nothing.
 */
function expectedExemplars(
  bounds: readonly number[],
  valueOf: (request: SentRequest) => number | undefined,
  seriesOf: (request: SentRequest) => string,
): Map<string, { request: SentRequest; value: number }> {
  const expected = new Map<string, { request: SentRequest; value: number }>();
  for (const request of sent) {
    const value = valueOf(request);
    if (value === undefined || request.traceId === undefined) continue;
    const bound = bounds.find((le) => value <= le);
    expected.set(`${seriesOf(request)} le=${bound ?? '+Inf'}`, { request, value });
  }
  return expected;
}

function assertExemplars(
  name: string,
  bounds: readonly number[],
  valueOf: (request: SentRequest) => number | undefined,
  seriesOf: (request: SentRequest) => string = () => '',
  seriesOfLine: (line: ExemplarLine) => string = () => '',
): void {
  const expected = expectedExemplars(bounds, valueOf, seriesOf);
  const actual = exemplarsOf(openMetrics.text, name);
  expect(actual.map((line) => `${seriesOfLine(line)} le=${line.labels.le}`).sort()).toEqual([...expected.keys()].sort());
  for (const line of actual) {
    const { request, value } = expected.get(`${seriesOfLine(line)} le=${line.labels.le}`)!;
    expect(line.traceId).toBe(request.traceId);
    expect(line.spanId).toBe(request.spanId);
    // The access log rounds to the microsecond.
    expect(line.value).toBeCloseTo(value, 5);
  }
}

const seconds = (field: string) => (request: SentRequest) => {
  const ms = request.access[field];
  return typeof ms === 'number' ? ms / 1000 : undefined;
};

beforeAll(async () => {
  fleet = await startFleet({ replicas: 1, simulator: { interTokenMs: 2, prefillBaseMs: 2 }, gateway: { metrics: { bearerToken: TOKEN } } });
  await sendRequests();
  const scrape = (accept: string | undefined) =>
    fetch(`${fleet.gateway.adminUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}`, ...(accept === undefined ? {} : { accept }) } });
  const om = await scrape(OPENMETRICS_ACCEPT);
  openMetrics = { contentType: om.headers.get('content-type'), vary: om.headers.get('vary'), text: await om.text() };
  const text = await scrape(undefined);
  prometheusText = { contentType: text.headers.get('content-type'), text: await text.text() };
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await fleet?.close();
});

describe('GET /metrics with exemplars', () => {
  it('answers an OpenMetrics Accept with an OpenMetrics 1.0 exposition ending in # EOF', () => {
    expect(openMetrics.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(openMetrics.vary).toMatch(/accept/i);
    expect(openMetrics.text.endsWith('\n# EOF\n')).toBe(true);
    expect(openMetrics.text).toContain('# TYPE tollbooth_requests counter\n');
    expect(openMetrics.text).toMatch(/^tollbooth_requests_total\{/m);
  });

  it('puts each bucket\'s latest traced request on the TTFT, TPOT and end-to-end histograms, with its exact value', () => {
    assertExemplars('tollbooth_time_to_first_token_seconds', TTFT_BUCKETS, seconds('ttft_ms'));
    assertExemplars('tollbooth_time_per_output_token_seconds', TOKEN_LATENCY_BUCKETS, seconds('tpot_ms'));
    assertExemplars(
      'tollbooth_e2e_request_latency_seconds',
      REQUEST_LATENCY_BUCKETS,
      seconds('duration_ms'),
      (request) => `stream=${request.stream}`,
      (line) => `stream=${line.labels.stream}`,
    );
    // The two requests with TTFTs of 150 and 160 ms share a bucket: the later one is its exemplar.
    const ttft = exemplarsOf(openMetrics.text, 'tollbooth_time_to_first_token_seconds');
    const sharedBucket = ttft.find((line) => line.traceId === traceIdOf(1));
    expect(sharedBucket?.labels.le).toBe('0.25');
    expect(ttft.some((line) => line.traceId === traceIdOf(0))).toBe(false);
    // The untraced 1.2 s TTFT is counted in its bucket, which names no trace.
    const ttftBucket = (le: string) => sampleSum(prometheusText.text, 'tollbooth_time_to_first_token_seconds_bucket', { le });
    expect(ttftBucket('2.5') - ttftBucket('1')).toBe(1);
    expect(ttft.some((line) => line.labels.le === '2.5')).toBe(false);
  });

  it('marks the largest inter-chunk gap of traced streams and the upstream TTFT, and stamps exemplars with the wall clock', () => {
    const tracedStreams = new Set(sent.filter((request) => request.stream && request.traceId !== undefined).map((request) => request.traceId));
    const gaps = exemplarsOf(openMetrics.text, 'tollbooth_inter_chunk_latency_seconds');
    // One exemplar per request (its largest gap), not one per chunk: 4 traced streams made 20 gaps.
    expect(sampleSum(prometheusText.text, 'tollbooth_inter_chunk_latency_seconds_count')).toBe(25);
    expect(gaps.length).toBeGreaterThan(0);
    expect(gaps.length).toBeLessThanOrEqual(tracedStreams.size);
    for (const line of gaps) expect(tracedStreams.has(line.traceId)).toBe(true);
    // The stream with 30 ms between tokens left its largest gap in a bucket above 25 ms.
    expect(Math.max(...gaps.map((line) => line.value))).toBeGreaterThanOrEqual(0.025);
    const upstream = exemplarsOf(openMetrics.text, 'tollbooth_upstream_time_to_first_token_seconds');
    expect(upstream.map((line) => line.traceId)).toEqual(expect.arrayContaining([traceIdOf(1), traceIdOf(2), traceIdOf(3)]));
    const now = Date.now() / 1000;
    for (const line of [...gaps, ...upstream]) {
      expect(line.timestamp).toBeGreaterThan(now - 60);
      expect(line.timestamp).toBeLessThanOrEqual(now);
    }
  });

  it('serves the Prometheus text format otherwise, without exemplars, and promtool accepts it', async () => {
    expect(prometheusText.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(prometheusText.text).not.toContain('trace_id');
    expect(prometheusText.text).not.toContain('# EOF');
    expect(prometheusText.text).toContain('# TYPE tollbooth_requests_total counter\n');
    const result = await promtoolCheckMetrics(prometheusText.text);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('a real Prometheus scraping the gateway', () => {
  it('parses the OpenMetrics exposition and stores the same exemplars, readable through query_exemplars', async () => {
    prometheus = await startPrometheus({ url: fleet.gateway.adminUrl!, bearerToken: TOKEN });
    const target = await prometheus.targetUp();
    expect(target.lastError).toBe('');

    const since = String(Math.floor(Date.now() / 1000) - 600);
    const stored = async (name: string) =>
      (await prometheus!.api<ExemplarSeries[]>('/api/v1/query_exemplars', { query: `${name}_bucket`, start: since, end: String(Math.ceil(Date.now() / 1000) + 60) }))
        .flatMap((series) => series.exemplars.map((exemplar) => ({ series: series.seriesLabels, exemplar })));
    for (const name of [
      'tollbooth_time_to_first_token_seconds',
      'tollbooth_upstream_time_to_first_token_seconds',
      'tollbooth_time_per_output_token_seconds',
      'tollbooth_inter_chunk_latency_seconds',
      'tollbooth_e2e_request_latency_seconds',
    ]) {
      const exposed = exemplarsOf(openMetrics.text, name);
      const fromPrometheus = await stored(name);
      // Later scrapes repeat the same exemplars; Prometheus keeps each once.
      expect(
        fromPrometheus.map(({ series, exemplar }) => ({
          le: series.le,
          stream: series.stream,
          traceId: exemplar.labels.trace_id,
          spanId: exemplar.labels.span_id,
          value: Number(exemplar.value),
          timestamp: Math.round(exemplar.timestamp * 1000),
        })).sort((a, b) => a.timestamp - b.timestamp || String(a.le).localeCompare(String(b.le))),
        `${name}\n${prometheus.log().slice(-2000)}`,
      ).toEqual(
        exposed.map((line) => ({
          le: line.labels.le,
          stream: line.labels.stream,
          traceId: line.traceId,
          spanId: line.spanId,
          value: line.value,
          timestamp: Math.round(line.timestamp * 1000),
        })).sort((a, b) => a.timestamp - b.timestamp || String(a.le).localeCompare(String(b.le))),
      );
      expect(fromPrometheus.every(({ series }) => series.job === 'tollbooth' && series.__name__ === `${name}_bucket`)).toBe(true);
    }

    // Counters arrive under their _total names with the values the text format shows.
    const { result } = await prometheus.api<{ result: Array<{ value: [number, string] }> }>('/api/v1/query', {
      query: 'sum(tollbooth_requests_total{route="/v1/chat/completions"})',
    });
    expect(Number(result[0]?.value[1])).toBe(sampleSum(prometheusText.text, 'tollbooth_requests_total', { route: '/v1/chat/completions' }));
  }, 40_000);
});
