import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { RequestSpanFacts } from '../../../src/telemetry/tracing/request-span-facts.js';
import { RequestSpanEncoder } from '../../../src/telemetry/tracing/request-span-encoder.js';
import { SpanRecordWriter, writeRequestSpans } from '../../../src/telemetry/tracing/request-spans.js';
import type { AttributeLimits } from '../../../src/telemetry/tracing/span-pipeline.js';
import { decodeTraceRequest } from './otlp-decode.js';
import { EVERYTHING, NOTHING_OPTIONAL } from './span-facts-fixtures.js';

const RESOURCE = resourceFromAttributes({ 'service.name': 'tollbooth', 'host.name': 'gateway-é', 'process.pid': 4242 }, { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
const SCOPE = { name: 'tollbooth', version: '0.1.0', schemaUrl: 'https://opentelemetry.io/schemas/1.29.0' };
const DEFAULT_LIMITS: AttributeLimits = { countLimit: 128, valueLengthLimit: Infinity };

/** Rate-limit span ids in a known order, so both writers choose the same ones. */
function countingIds() {
  let next = 0;
  return { spanId: () => (++next).toString(16).padStart(16, 'c') };
}

/** What the thread sent before: span records built in process, serialized by the standard serializer. */
function standardMessage(batch: readonly RequestSpanFacts[], limits: AttributeLimits): unknown {
  const spans: ReadableSpan[] = [];
  const writer = new SpanRecordWriter({ resource: RESOURCE, scope: SCOPE, limits, parseTraceState: (header) => new TraceState(header) }, (span) => spans.push(span));
  const ids = countingIds();
  for (const facts of batch) writeRequestSpans(facts, writer, ids);
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error('the standard serializer returned nothing');
  return decodeTraceRequest(bytes);
}

function encoded(batch: readonly RequestSpanFacts[], limits: AttributeLimits, encoder = new RequestSpanEncoder(RESOURCE, SCOPE, limits, countingIds())): unknown {
  return decodeTraceRequest(encoder.encode(batch));
}

/** A request that failed over twice and then got a 502 from the last replica. */
const FAILED_UPSTREAM: RequestSpanFacts = {
  ...EVERYTHING,
  spanId: '00f067aa0ba902c1',
  samplerAttributes: undefined,
  traceState: undefined,
  parent: undefined,
  status: 502,
  outcome: 'upstream_error',
  errorType: 'upstream_http_502',
  usage: undefined,
  firstToken: undefined,
  finishReasons: [],
  attempts: [
    { spanId: '4444444444444444', startedAt: 1002, endedAt: 1002.5, errorType: undefined, replica: 'gpu-a', address: '10.0.0.5', port: 8000 },
    { spanId: '5555555555555555', startedAt: 1003, endedAt: 1003.5, errorType: 'ECONNRESET', replica: 'gpu-b', address: '10.0.0.6', port: 8000 },
    { spanId: '6666666666666666', startedAt: 1004, endedAt: undefined, errorType: undefined, replica: 'gpu-c', address: '10.0.0.7', port: 8000 },
  ],
};

describe('RequestSpanEncoder: request spans encoded straight from their facts', () => {
  it('make the message the span records and the standard serializer make: every optional fact, none, a failover, an upstream error', () => {
    const batch = [EVERYTHING, NOTHING_OPTIONAL, FAILED_UPSTREAM];
    const ours = encoded(batch, DEFAULT_LIMITS) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
    expect(ours).toEqual(standardMessage(batch, DEFAULT_LIMITS));
    // Rate limit, two attempts and SERVER; SERVER alone; rate limit, three attempts and SERVER.
    expect(ours.resourceSpans[0]!.scopeSpans[0]!.spans).toHaveLength(4 + 1 + 5);
  });

  it('keep the attribute limits as the SDK does: the count limit drops (and counts) the rest, the length limit cuts strings and strings in lists', () => {
    const batch = [EVERYTHING, FAILED_UPSTREAM];
    type Message = { resourceSpans: { scopeSpans: { spans: { attributes: { key: string; value: unknown }[]; droppedAttributesCount?: number }[] }[] }[] };
    const fewAndShort = encoded(batch, { countLimit: 5, valueLengthLimit: 4 }) as Message;
    expect(fewAndShort).toEqual(standardMessage(batch, { countLimit: 5, valueLengthLimit: 4 }));
    const spans = fewAndShort.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(spans.every((span) => span.attributes.length <= 5)).toBe(true);
    expect(spans.some((span) => (span.droppedAttributesCount ?? 0) > 0)).toBe(true);

    const short = encoded(batch, { countLimit: 128, valueLengthLimit: 3 }) as Message;
    expect(short).toEqual(standardMessage(batch, { countLimit: 128, valueLengthLimit: 3 }));
    const reasons = short.resourceSpans[0]!.scopeSpans[0]!.spans.flatMap((span) => span.attributes).find((attribute) => attribute.key === 'gen_ai.response.finish_reasons');
    expect(reasons?.value).toEqual({ arrayValue: { values: [{ stringValue: 'sto' }, { stringValue: 'len' }] } });
  });

  it('one encoder, batch after batch: pairs remembered from earlier batches are copied into later ones unchanged', () => {
    const encoder = new RequestSpanEncoder(RESOURCE, SCOPE, DEFAULT_LIMITS, countingIds());
    const first = encoded([EVERYTHING, FAILED_UPSTREAM], DEFAULT_LIMITS, encoder);
    const second = encoded([EVERYTHING, FAILED_UPSTREAM], DEFAULT_LIMITS, encoder);
    const expectedIds = countingIds();
    const spans: ReadableSpan[] = [];
    const writer = new SpanRecordWriter({ resource: RESOURCE, scope: SCOPE, limits: DEFAULT_LIMITS, parseTraceState: (header) => new TraceState(header) }, (span) => spans.push(span));
    for (const facts of [EVERYTHING, FAILED_UPSTREAM, EVERYTHING, FAILED_UPSTREAM]) writeRequestSpans(facts, writer, expectedIds);
    const half = spans.length / 2;
    expect(first).toEqual(decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans.slice(0, half))!));
    expect(second).toEqual(decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans.slice(half))!));
  });
});
