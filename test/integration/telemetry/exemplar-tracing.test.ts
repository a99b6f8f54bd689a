import OpenAI from 'openai';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TTFT_BUCKETS } from '../../../src/telemetry/metrics/instruments.js';
import { useSpanPipeline } from '../../../src/telemetry/tracing/span-pipeline.js';
import { startFleet, type TestFleet } from '../../helpers/fleet.js';
import { sampleSum } from '../../helpers/promtool.js';
import { inMemoryTracing } from '../../unit/tracing/in-memory-tracing.js';

/**
 * The join itself, with the real tracing code: a client's sampled `traceparent` makes the
 * gateway's SERVER span, and the TTFT bucket's exemplar names that span (its trace id and span
 * id), so a panel can open exactly the trace the slow request left. An unsampled request is
 * counted but leaves no exemplar.
 */

const { exporter, provider, pipeline } = inMemoryTracing();
const CLIENT_TRACE_ID = '5b8efff798038103d269b633813fc60c';
const CLIENT_SPAN_ID = 'eee19b7ec3c1b174';
const UNSAMPLED_TRACE_ID = '6c9f0008a9149214e37ac744924fd71d';
let fleet: TestFleet;

async function streamedChat(headers: Record<string, string>): Promise<Headers> {
  const sdk = new OpenAI({ baseURL: `${fleet.gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const { data: stream, response } = await sdk.chat.completions
    .create({ model: 'test-model', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 4, stream: true }, { headers: { 'x-sim-tokens': '4', ...headers } })
    .withResponse();
  for await (const chunk of stream) void chunk;
  return response.headers;
}

beforeAll(async () => {
  useSpanPipeline(pipeline);
  fleet = await startFleet({ replicas: 1, simulator: { interTokenMs: 2, prefillBaseMs: 2 } });
});

afterAll(async () => {
  await fleet?.close();
  useSpanPipeline(undefined);
  await provider.shutdown();
});

describe('exemplars from real traces', () => {
  it("names the SERVER span of a sampled request on its TTFT bucket, and nothing for an unsampled one", async () => {
    const sampled = await streamedChat({ traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`, 'x-sim-ttft-ms': '150', 'x-request-id': 'sampled' });
    const sampledAccess = await fleet.gateway.accessLineOf('sampled');
    await streamedChat({ traceparent: `00-${UNSAMPLED_TRACE_ID}-${CLIENT_SPAN_ID}-00`, 'x-sim-ttft-ms': '600', 'x-request-id': 'unsampled' });
    await fleet.gateway.accessLineOf('unsampled');

    const [, traceId, serverSpanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(sampled.get('traceresponse') ?? '') ?? [];
    expect(traceId).toBe(CLIENT_TRACE_ID);
    const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER && span.spanContext().spanId === serverSpanId);
    expect(server?.spanContext().traceId).toBe(CLIENT_TRACE_ID);

    const response = await fetch(`${fleet.gateway.adminUrl}/metrics`, { headers: { accept: 'application/openmetrics-text' } });
    const exposition = await response.text();
    const ttftExemplars = exposition.split('\n').filter((line) => line.startsWith('tollbooth_time_to_first_token_seconds_bucket{') && line.includes(' # {'));
    expect(ttftExemplars).toHaveLength(1);
    const [, le, labels, value] = /^tollbooth_time_to_first_token_seconds_bucket\{le="([^"]+)",[^}]*\} \d+ # \{([^}]*)\} (\S+) \S+$/.exec(ttftExemplars[0]!) ?? [];
    expect(labels).toBe(`trace_id="${CLIENT_TRACE_ID}",span_id="${serverSpanId}"`);
    expect(Number(value)).toBeCloseTo((sampledAccess.ttft_ms as number) / 1000, 5);
    expect(le).toBe(String(TTFT_BUCKETS.find((bound) => Number(value) <= bound)));
    expect(exposition).not.toContain(UNSAMPLED_TRACE_ID);
    // Both requests are counted; only the sampled one is an example.
    expect(sampleSum(exposition.replace(/ # \{.*$/gm, ''), 'tollbooth_time_to_first_token_seconds_count')).toBe(2);
  });
});
