import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { RequestMeasures } from '../../../src/telemetry/measures.js';
import { renderExposition } from '../../../src/telemetry/metrics/exposition.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';
import { MetricsRecorder, exemplarTraceOf } from '../../../src/telemetry/metrics/recorder.js';
import { createObservation, type RequestObservation } from '../../../src/lifecycle/observation.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

/** A successful stream: TTFT 30 ms, upstream TTFT 25 ms, TPOT 8 ms, gaps up to 120 ms, 1.3 s end to end. */
const STREAM_MEASURES: RequestMeasures = {
  outcome: 'success',
  statusClass: '2xx',
  errorType: null,
  endToEndMs: 1300,
  overheadMs: 0.2,
  ttftMs: 30,
  upstreamTtftMs: 25,
  tpotMs: 8,
  decodeTokensPerSecond: 125,
  chunkGapsMs: [8, 120, 9],
  tokens: { input: 10, cachedInput: 0, output: 4, source: 'exact' },
};

function observation(trace: Partial<Pick<RequestObservation, 'traceId' | 'spanId'>>): RequestObservation {
  return Object.assign(createObservation('r', 'POST', '/v1/chat/completions', 0), { stream: true, requestedModel: 'm', replica: 'a' }, trace);
}

async function recorded(observations: RequestObservation[]): Promise<Array<{ sample: string; exemplar: string }>> {
  const registry = new Registry();
  const recorder = new MetricsRecorder(createInstruments(registry, { replicas: () => [] }, '0.0.0'), 'USD');
  for (const one of observations) recorder.record(one, STREAM_MEASURES, { nanos: 0n, basis: 'none' }, { model: 'm', replica: 'a', tenant: 'none' });
  return (await renderExposition(registry, 'openmetrics'))
    .split('\n')
    .filter((line) => line.includes(' # {'))
    .map((line) => ({ sample: line.slice(0, line.indexOf(' # {')), exemplar: line.slice(line.indexOf(' # {') + 3) }));
}

describe('MetricsRecorder exemplars', () => {
  it('puts the trace on the bucket of each latency the request fed: TTFT, upstream TTFT, TPOT, end to end, its largest gap', async () => {
    const before = Date.now() / 1000;
    const lines = await recorded([observation({ traceId: TRACE_ID, spanId: SPAN_ID })]);
    const after = Date.now() / 1000;
    const labels = `{trace_id="${TRACE_ID}",span_id="${SPAN_ID}"}`;
    expect(lines.map((line) => [line.sample, line.exemplar.split(' ').slice(0, 2).join(' ')])).toEqual([
      ['tollbooth_time_to_first_token_seconds_bucket{le="0.04",model="m",replica="a"} 1', `${labels} 0.03`],
      ['tollbooth_upstream_time_to_first_token_seconds_bucket{le="0.04",model="m",replica="a"} 1', `${labels} 0.025`],
      ['tollbooth_time_per_output_token_seconds_bucket{le="0.01",model="m",replica="a"} 1', `${labels} 0.008`],
      ['tollbooth_inter_chunk_latency_seconds_bucket{le="0.15",model="m",replica="a"} 3', `${labels} 0.12`],
      ['tollbooth_e2e_request_latency_seconds_bucket{le="1.5",model="m",replica="a",stream="true"} 1', `${labels} 1.3`],
    ]);
    for (const line of lines) {
      const timestamp = Number(line.exemplar.split(' ')[2]);
      expect(timestamp).toBeGreaterThanOrEqual(before);
      expect(timestamp).toBeLessThanOrEqual(after);
    }
  });

  it('writes no exemplar for untraced requests, and the latest traced request wins its bucket', async () => {
    expect(await recorded([observation({}), observation({ traceId: '', spanId: SPAN_ID })])).toEqual([]);
    const lines = await recorded([observation({ traceId: TRACE_ID, spanId: SPAN_ID }), observation({ traceId: 'f'.repeat(32), spanId: 'e'.repeat(16) }), observation({})]);
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line.exemplar).toMatch(new RegExp(`^\\{trace_id="${'f'.repeat(32)}",span_id="${'e'.repeat(16)}"\\} `));
  });
});

describe('exemplarTraceOf', () => {
  const now = () => 1_700_000_000_000;
  it('takes the ids as they are, stamped with the wall clock', () => {
    expect(exemplarTraceOf({ traceId: TRACE_ID, spanId: SPAN_ID }, now)).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, epochMs: 1_700_000_000_000 });
    expect(exemplarTraceOf({ traceId: TRACE_ID, spanId: undefined }, now)).toEqual({ traceId: TRACE_ID, spanId: undefined, epochMs: 1_700_000_000_000 });
  });

  it('refuses ids that would break the 128-character OpenMetrics exemplar limit', () => {
    expect(exemplarTraceOf({ traceId: 'a'.repeat(100), spanId: 'b'.repeat(13) }, now)).toBeDefined();
    expect(exemplarTraceOf({ traceId: 'a'.repeat(100), spanId: 'b'.repeat(14) }, now)).toBeUndefined();
    expect(exemplarTraceOf({ traceId: undefined, spanId: SPAN_ID }, now)).toBeUndefined();
  });
});
