import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { OtlpSpanEncoder } from '../../../src/telemetry/tracing/otlp-span-encoder.js';
import { samplerFromEnv } from '../../../src/telemetry/tracing/sampler-from-env.js';
import { attributeLimitsFromEnv, propagatesW3cOnly, spanOriginOf } from '../../../src/telemetry/tracing/span-pipeline.js';
import { AttributeCollector, limitedAttributes, SpanRecord, spanTime, UNSET_STATUS } from '../../../src/telemetry/tracing/span-records.js';
import { decodeTraceRequest } from './otlp-decode.js';

const UNLIMITED = { countLimit: 128, valueLengthLimit: Infinity };
const resource = resourceFromAttributes({ 'service.name': 'tollbooth', 'host.name': 'vm' });
const scope = { name: 'tollbooth', version: '1.2.3' };

describe('attributes of a span record', () => {
  it('leave out undefined and null values, keep every other kind, last write wins', () => {
    const collector = new AttributeCollector(UNLIMITED)
      .addAll({ a: 'x', b: undefined, c: 0, d: false, e: ['stop'] })
      .add('f', null)
      .add('a', 'y');
    expect(collector.values).toEqual({ a: 'y', c: 0, d: false, e: ['stop'] });
    expect(Object.keys(collector.values)).toEqual(['a', 'c', 'd', 'e']);
    expect(collector.dropped).toBe(0);
  });

  it('honour the count and value-length limits as the SDK does: new keys past the count dropped and counted, strings cut', () => {
    const collector = new AttributeCollector({ countLimit: 2, valueLengthLimit: 3 }).addAll({ a: 'abcdef', b: ['long', 'ok', 7] as never, c: 'dropped', d: 1 });
    collector.add('a', 'zzzz');
    expect(collector.values).toEqual({ a: 'zzz', b: ['lon', 'ok', 7] });
    expect(collector.dropped).toBe(2);
  });

  it('are taken as built under the default limits, and through the limits otherwise', () => {
    const built = { a: 'abcdef', b: 1, c: true };
    expect(limitedAttributes(built, UNLIMITED).values).toBe(built);
    expect(limitedAttributes(built, { countLimit: 2, valueLengthLimit: Infinity })).toEqual({ values: { a: 'abcdef', b: 1 }, dropped: 1 });
    expect(limitedAttributes(built, { countLimit: 128, valueLengthLimit: 2 })).toEqual({ values: { a: 'ab', b: 1, c: true }, dropped: 0 });
  });

  it('limits from OTEL_SPAN_ATTRIBUTE_*, then OTEL_ATTRIBUTE_*, then 128 and unlimited', () => {
    expect(attributeLimitsFromEnv({})).toEqual({ countLimit: 128, valueLengthLimit: Infinity });
    expect(attributeLimitsFromEnv({ OTEL_ATTRIBUTE_COUNT_LIMIT: '10', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '64' })).toEqual({ countLimit: 10, valueLengthLimit: 64 });
    expect(attributeLimitsFromEnv({ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '5', OTEL_ATTRIBUTE_COUNT_LIMIT: '10', OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: 'x' })).toEqual({
      countLimit: 5,
      valueLengthLimit: Infinity,
    });
  });
});

describe('span times', () => {
  it('convert a performance.now() reading with the one offset, carrying nanoseconds into seconds', () => {
    expect(spanTime(250.5, 1_700_000_000_000)).toEqual([1_700_000_000, 250_500_000]);
    expect(spanTime(999.9999999, 1_700_000_000_000)).toEqual([1_700_000_001, 0]);
    const record = new SpanRecord('s', SpanKind.INTERNAL, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }, undefined, [10, 900_000_000], [12, 100_000_000], UNSET_STATUS, {}, 0, [], resource, scope);
    expect(record.duration).toEqual([1, 200_000_000]);
    expect(record.ended).toBe(true);
  });
});

describe('span records through the exporter', () => {
  it('encode to the same OTLP message with our encoder and the standard serializer: parents remote and local, trace state, events, status', () => {
    const traceState = new TraceState('vendor=a,other=b');
    const client = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState };
    const server = { traceId: client.traceId, spanId: '1111111111111111', traceFlags: TraceFlags.SAMPLED, traceState };
    const attempt = { ...server, spanId: '2222222222222222' };
    const serverAttributes = new AttributeCollector(UNLIMITED).addAll({ 'http.request.method': 'POST', 'http.response.status_code': 502, 'error.type': undefined }).values;
    const spans = [
      new SpanRecord('chat m', SpanKind.CLIENT, attempt, server, [100, 2_000_000], [100, 140_000_000], { code: SpanStatusCode.ERROR, message: 'upstream_http_502' }, { 'gen_ai.request.model': 'm', 'gen_ai.response.finish_reasons': ['stop'] }, 0, [
        { name: 'gen_ai.first_token', time: [100, 40_000_000], attributes: { 'tollbooth.ttft_ms': 40.2 }, droppedAttributesCount: 0 },
      ], resource, scope),
      new SpanRecord('POST /v1/chat/completions', SpanKind.SERVER, server, client, [100, 0], [100, 141_000_000], { code: SpanStatusCode.ERROR }, serverAttributes, 1, [], resource, scope),
      new SpanRecord('rate_limit', SpanKind.INTERNAL, { ...server, spanId: '3333333333333333' }, server, [100, 1_000_000], [100, 1_600_000], UNSET_STATUS, {}, 0, [], resource, scope),
    ];
    const ours = decodeTraceRequest(new OtlpSpanEncoder().encode(spans));
    expect(ours).toEqual(decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans)!));
    expect(JSON.stringify(ours)).toContain('vendor=a,other=b');
  });
});

describe('the span origin of an SDK tracer provider', () => {
  it("takes the provider's resource and scope from a probe span that is never exported", () => {
    const ended: unknown[] = [];
    const processor = { onStart() {}, onEnd: (span: unknown) => ended.push(span), forceFlush: async () => {}, shutdown: async () => {} };
    const sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
    const provider = new BasicTracerProvider({ resource, spanProcessors: [processor], sampler });
    const origin = spanOriginOf(provider, (header) => new TraceState(header), resourceFromAttributes({}), { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '7' });
    expect(origin.resource).toBe(resource);
    expect(origin.scope).toMatchObject({ name: 'tollbooth' });
    expect(origin.limits.countLimit).toBe(7);
    expect(ended).toEqual([]);
  });

  it('reads and writes W3C headers directly unless OTEL_PROPAGATORS names another propagator', () => {
    expect(propagatesW3cOnly({})).toBe(true);
    expect(propagatesW3cOnly({ OTEL_PROPAGATORS: 'tracecontext' })).toBe(true);
    expect(propagatesW3cOnly({ OTEL_PROPAGATORS: ' baggage , tracecontext ' })).toBe(true);
    expect(propagatesW3cOnly({ OTEL_PROPAGATORS: 'TraceContext' })).toBe(false);
    expect(propagatesW3cOnly({ OTEL_PROPAGATORS: 'tracecontext,b3' })).toBe(false);
    expect(propagatesW3cOnly({ OTEL_PROPAGATORS: 'baggage' })).toBe(false);
    expect(propagatesW3cOnly({ OTEL_PROPAGATORS: 'none' })).toBe(false);
  });

  it('falls back when the sampler records nothing at all (no request span will ever need the resource)', () => {
    const processor = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} };
    const sampler = new AlwaysOffSampler();
    const fallback = resourceFromAttributes({ fallback: true });
    const origin = spanOriginOf(new BasicTracerProvider({ resource, spanProcessors: [processor], sampler }), (header) => new TraceState(header), fallback, {});
    expect(origin.resource).toBe(fallback);
  });
});

describe('the sampler from OTEL_TRACES_SAMPLER', () => {
  const kinds = { AlwaysOnSampler, AlwaysOffSampler, ParentBasedSampler, TraceIdRatioBasedSampler };
  it('builds what the NodeSDK builds from the same variables', () => {
    const named = (env: NodeJS.ProcessEnv) => samplerFromEnv(env, kinds).toString();
    expect(named({})).toBe('ParentBased{root=AlwaysOnSampler, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}');
    expect(named({ OTEL_TRACES_SAMPLER: 'nonsense' })).toBe(named({}));
    expect(named({ OTEL_TRACES_SAMPLER: 'always_on' })).toBe('AlwaysOnSampler');
    expect(named({ OTEL_TRACES_SAMPLER: 'always_off' })).toBe('AlwaysOffSampler');
    expect(named({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' })).toContain('ParentBased{root=AlwaysOffSampler');
    expect(named({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })).toBe('TraceIdRatioBased{0.25}');
    expect(named({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' })).toBe('TraceIdRatioBased{1}');
    expect(named({ OTEL_TRACES_SAMPLER: 'traceidratio' })).toBe('TraceIdRatioBased{1}');
    expect(named({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' })).toContain('ParentBased{root=TraceIdRatioBased{0.5}');
  });
});
