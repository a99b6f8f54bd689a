import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, TraceState, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { createBatchSpanProcessorFromEnv } from '@opentelemetry/sdk-node/build/src/create-from-env.js';
import { AlwaysOffSampler, BasicTracerProvider, ParentBasedSampler, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TraceExportCounts } from '../../../src/telemetry/tracing/reporting-exporter.js';
import { spanOriginOf } from '../../../src/telemetry/tracing/span-pipeline.js';
import { limitedAttributes, SpanRecord, spanTime, UNSET_STATUS } from '../../../src/telemetry/tracing/span-records.js';

const resource = resourceFromAttributes({ 'service.name': 'tollbooth', 'host.name': 'vm' });
const scope = { name: 'tollbooth', version: '1.2.3' };
const SERVER = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '1111111111111111', traceFlags: TraceFlags.SAMPLED };

function record(name: string, attributes = {}, limits = {}): SpanRecord {
  return new SpanRecord(name, SpanKind.INTERNAL, SERVER, undefined, [10, 900_000_000], [12, 100_000_000], UNSET_STATUS, attributes, [], resource, scope, limits);
}

describe('attributes of a span record', () => {
  it('are taken as built under the default limits, and through the limits otherwise', () => {
    const built = { a: 'abcdef', b: 1, c: true };
    expect(limitedAttributes(built, {}).values).toBe(built);
    expect(limitedAttributes(built, { attributeCountLimit: 2 })).toEqual({ values: { a: 'abcdef', b: 1 }, dropped: 1 });
    expect(limitedAttributes(built, { attributeValueLengthLimit: 2 })).toEqual({ values: { a: 'ab', b: 1, c: true }, dropped: 0 });
  });

  it('honour the count and value-length limits as the SDK does: keys past the count dropped and counted, strings in lists cut', () => {
    const limited = record('s', { a: 'abcdef', b: ['long', 'ok', 7], c: 'dropped', d: 1 }, { attributeCountLimit: 2, attributeValueLengthLimit: 3 });
    expect(limited.attributes).toEqual({ a: 'abc', b: ['lon', 'ok', 7] });
    expect(limited.droppedAttributesCount).toBe(2);
  });
});

describe('span times', () => {
  it('convert a performance.now() reading with the one offset, carrying nanoseconds into seconds', () => {
    expect(spanTime(250.5, 1_700_000_000_000)).toEqual([1_700_000_000, 250_500_000]);
    expect(spanTime(999.9999999, 1_700_000_000_000)).toEqual([1_700_000_001, 0]);
    const span = record('s');
    expect(span.duration).toEqual([1, 200_000_000]);
    expect(span.ended).toBe(true);
  });
});

describe('span records through the standard serializer', () => {
  it('serialize as SDK spans do: parents remote and local, trace state, events, status', () => {
    const traceState = new TraceState('vendor=a,other=b');
    const client = { traceId: SERVER.traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState };
    const server = { ...SERVER, traceState };
    const attempt = { ...server, spanId: '2222222222222222' };
    const spans = [
      new SpanRecord('chat m', SpanKind.CLIENT, attempt, server, [100, 2_000_000], [100, 140_000_000], { code: SpanStatusCode.ERROR, message: 'upstream_http_502' }, { 'gen_ai.request.model': 'm' }, [
        { name: 'gen_ai.first_token', time: [100, 40_000_000], attributes: { 'tollbooth.ttft_ms': 40.2 }, droppedAttributesCount: 0 },
      ], resource, scope, {}),
      new SpanRecord('POST /v1/chat/completions', SpanKind.SERVER, server, client, [100, 0], [100, 141_000_000], { code: SpanStatusCode.ERROR }, { 'http.request.method': 'POST' }, [], resource, scope, {}),
    ];
    const message = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans))) as {
      resourceSpans: { scopeSpans: { scope: { name: string }; spans: Record<string, unknown>[] }[] }[];
    };
    const [scopeSpans] = message.resourceSpans[0]!.scopeSpans;
    expect(scopeSpans!.scope.name).toBe('tollbooth');
    const [chat, post] = scopeSpans!.spans;
    expect(chat).toMatchObject({ name: 'chat m', kind: 3, traceState: 'vendor=a,other=b', status: { code: 2, message: 'upstream_http_502' }, events: [{ name: 'gen_ai.first_token' }] });
    expect(post).toMatchObject({ name: 'POST /v1/chat/completions', kind: 2, startTimeUnixNano: '100000000000', endTimeUnixNano: '100141000000' });
  });
});

describe('the span origin of an SDK tracer provider', () => {
  it("takes the provider's resource and scope from a probe span that is never exported", () => {
    const ended: unknown[] = [];
    const processor = { onStart() {}, onEnd: (span: unknown) => ended.push(span), forceFlush: async () => {}, shutdown: async () => {} };
    const sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
    const provider = new BasicTracerProvider({ resource, spanProcessors: [processor], sampler });
    const origin = spanOriginOf(provider, resourceFromAttributes({}), { attributeCountLimit: 7 });
    expect(origin.resource).toBe(resource);
    expect(origin.scope).toMatchObject({ name: 'tollbooth' });
    expect(origin.limits.attributeCountLimit).toBe(7);
    expect(ended).toEqual([]);
  });

  it('falls back when the sampler records nothing at all (no request span will ever need the resource)', () => {
    const processor = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} };
    const fallback = resourceFromAttributes({ fallback: true });
    const origin = spanOriginOf(new BasicTracerProvider({ resource, spanProcessors: [processor], sampler: new AlwaysOffSampler() }), fallback, {});
    expect(origin.resource).toBe(fallback);
  });
});

describe('spans the batch span processor finished', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('are counted as exported, failed and dropped from its own self-observability counter', async () => {
    // The processor as the gateway builds it, from OTEL_BSP_* (a queue and batches of four).
    vi.stubEnv('OTEL_BSP_MAX_QUEUE_SIZE', '4');
    vi.stubEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '4');
    vi.stubEnv('OTEL_BSP_SCHEDULE_DELAY', '60000');
    const counts = new TraceExportCounts();
    let answer: ExportResult = { code: ExportResultCode.SUCCESS };
    // Answers on a later turn, as a network exporter does: spans that end meanwhile wait in the queue.
    const exporter = { export: (_spans: ReadableSpan[], done: (result: ExportResult) => void) => void setImmediate(() => done(answer)), shutdown: async () => {} };
    const processor = createBatchSpanProcessorFromEnv(exporter, counts.meterProvider);
    for (let i = 0; i < 3; i++) processor.onEnd(record(`ok ${i}`));
    await processor.forceFlush();
    answer = { code: ExportResultCode.FAILED, error: new Error('connect ECONNREFUSED') };
    // Ten spans: four go to the exporter, four wait in the queue of four, two are dropped.
    for (let i = 0; i < 10; i++) processor.onEnd(record(`lost ${i}`));
    await vi.waitFor(() => expect({ exported: counts.exported, failed: counts.failed, dropped: counts.dropped }).toEqual({ exported: 3, failed: 8, dropped: 2 }));
    await processor.shutdown().catch(() => {});
  });
});
