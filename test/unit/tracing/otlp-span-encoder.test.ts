import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type AttributeValue, type Link, type SpanContext } from '@opentelemetry/api';
import { ExportResultCode, TraceState, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { otlpTraceExport } from '../../../src/telemetry/tracing/otlp-exporter.js';
import { OtlpSpanEncoder } from '../../../src/telemetry/tracing/otlp-span-encoder.js';
import { builtExportThread } from '../../helpers/cli.js';
import { decodeTraceRequest } from './otlp-decode.js';

function recordingProvider(resource: Attributes): { provider: BasicTracerProvider; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    spanLimits: { attributeCountLimit: 10_000 },
  });
  return { provider, exporter };
}

function standard(spans: ReadableSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error('the standard serializer returned nothing');
  return bytes;
}

function expectSameMessage(spans: ReadableSpan[], encoder = new OtlpSpanEncoder()): void {
  const ours = decodeTraceRequest(encoder.encode(spans));
  expect(ours).toEqual(decodeTraceRequest(standard(spans)));
}

const EVERY_KIND: Attributes = {
  'text.ascii': 'chat llama-3-8b',
  'text.empty': '',
  'text.unicode': 'café — 漢字 🙂',
  'text.unicode_long_bytes': '漢'.repeat(60),
  'text.ascii_127': 'a'.repeat(127),
  'text.ascii_200': 'b'.repeat(200),
  'text.large': 'c'.repeat(20_000) + 'é'.repeat(3000),
  'text.lone_surrogate': 'x\ud800y',
  'int.zero': 0,
  'int.one': 1,
  'int.127': 127,
  'int.128': 128,
  'int.2_31': 2 ** 31,
  'int.2_32': 2 ** 32,
  'int.2_40': 2 ** 40,
  'int.max_safe': Number.MAX_SAFE_INTEGER,
  'int.2_62': 2 ** 62,
  'int.minus_one': -1,
  'int.minus_2_40': -(2 ** 40),
  'int.min_int64': -(2 ** 63),
  'double.2_63': 2 ** 63,
  'double.half': 0.5,
  'double.negative': -1.25,
  'double.tiny': 5e-324,
  'double.infinity': Number.POSITIVE_INFINITY,
  'bool.true': true,
  'bool.false': false,
  'array.strings': ['stop', 'length', ''],
  'array.ints': [1, -2, 2 ** 35],
  'array.doubles': [0.25, 1.5],
  'array.bools': [true, false],
  'array.empty': [],
  'array.with_null': ['a', null, 'b'] as AttributeValue,
  'key with unicode é': 'v',
  ['k'.repeat(150)]: 'a key longer than 127 bytes',
};

describe('OtlpSpanEncoder encodes the same OTLP message as the standard ProtobufTraceSerializer', () => {
  it('every attribute kind, events, error status, parents and missing parents, trace state, links, two scopes', () => {
    const { provider, exporter } = recordingProvider({ 'service.name': 'tollbooth', 'host.name': 'gpu-host-é', 'process.pid': 4242, 'telemetry.sdk.language': 'nodejs' });
    const gateway = provider.getTracer('tollbooth', '0.1.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
    const redis = provider.getTracer('@opentelemetry/instrumentation-ioredis');

    const server = gateway.startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER, attributes: EVERY_KIND, startTime: [1_790_000_000, 123_456_789] });
    server.addEvent('gen_ai.first_token', { 'tollbooth.ttft_ms': 12.5, 'tollbooth.upstream_ttft_ms': 11 }, [1_790_000_000, 999_999_999]);
    server.addEvent('no attributes', [1_790_000_001, 0]);
    server.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream failed: ECONNREFUSED' });

    const attempt = gateway.startSpan('chat llama-3-8b', { kind: SpanKind.CLIENT, attributes: { 'gen_ai.request.model': 'llama-3-8b' } }, trace.setSpan(ROOT_CONTEXT, server));
    attempt.setStatus({ code: SpanStatusCode.OK });
    attempt.end([1_790_000_002, 1]);

    const remoteParent: SpanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
      traceState: new TraceState('vendor=opaque,other=x-y'),
    };
    const continued = gateway.startSpan('continued', { kind: SpanKind.INTERNAL }, trace.setSpanContext(ROOT_CONTEXT, remoteParent));
    continued.end();

    const link: Link = { context: { ...remoteParent, spanId: '00f067aa0ba902b7', traceState: undefined }, attributes: { 'link.kind': 'follows' } };
    const linked = gateway.startSpan('linked', { kind: SpanKind.PRODUCER, links: [link, { context: remoteParent }] });
    linked.end();

    const many: Attributes = {};
    for (let i = 0; i < 300; i++) many[`attribute.${i}`] = i % 2 === 0 ? `value ${i}` : i;
    const wide = gateway.startSpan('wide span over 16 KiB', { kind: SpanKind.CONSUMER, attributes: many });
    wide.end();

    const command = redis.startSpan('evalsha', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'redis', 'db.statement': 'evalsha' } }, trace.setSpan(ROOT_CONTEXT, server));
    command.end();
    server.end([1_790_000_003, 500]);

    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(6);
    expectSameMessage(spans);
    expectSameMessage([spans[0]!]);
  });

  it('several resources in one batch, and an empty batch', () => {
    const first = recordingProvider({ 'service.name': 'a' });
    const second = recordingProvider({ 'service.name': 'b', 'deployment.environment.name': 'prod' });
    for (const { provider } of [first, second, first]) provider.getTracer('t').startSpan('s').end();
    const spans = [...first.exporter.getFinishedSpans(), ...second.exporter.getFinishedSpans()];
    expectSameMessage([spans[0]!, spans[2]!, spans[1]!]);
    expectSameMessage([]);
  });

  it('attribute values the SDK does not produce but the protocol carries: bytes, key-value lists, dropped counts', () => {
    const { provider, exporter } = recordingProvider({ 'service.name': 'tollbooth' });
    provider.getTracer('t').startSpan('real').end();
    const real = exporter.getFinishedSpans()[0]!;
    const crafted: ReadableSpan = {
      name: 'crafted',
      kind: SpanKind.INTERNAL,
      spanContext: () => real.spanContext(),
      parentSpanContext: { traceId: real.spanContext().traceId, spanId: 'ABCDEF0123456789', traceFlags: 0, isRemote: false },
      startTime: [0, 0],
      endTime: [4_294_967_295, 999_999_999],
      status: { code: SpanStatusCode.UNSET },
      attributes: {
        bytes: new Uint8Array([0, 1, 254, 255]) as unknown as AttributeValue,
        kvlist: { inner: 'x', nested: { deep: 1 } } as unknown as AttributeValue,
        unset: undefined,
      },
      links: [],
      events: [{ name: 'e', time: [1, 2], attributes: { k: 'v' }, droppedAttributesCount: 2 }],
      duration: [0, 0],
      ended: true,
      resource: real.resource,
      instrumentationScope: { name: 'scope', version: '1.2.3', schemaUrl: 'https://example.test/schema' },
      droppedAttributesCount: 5,
      droppedEventsCount: 130,
      droppedLinksCount: 1,
    };
    expectSameMessage([crafted, real]);
  });

  it('random attributes, one encoder reused across batches', () => {
    const random = seeded(20261122);
    const { provider, exporter } = recordingProvider({ 'service.name': 'fuzz' });
    const tracer = provider.getTracer('fuzz');
    for (let i = 0; i < 400; i++) {
      const attributes: Attributes = {};
      const count = Math.floor(random() * 40);
      for (let a = 0; a < count; a++) attributes[randomText(random, 1 + Math.floor(random() * 60))] = randomValue(random);
      const span = tracer.startSpan(randomText(random, Math.floor(random() * 200)), { kind: Math.floor(random() * 5), attributes });
      if (random() < 0.3) span.addEvent(randomText(random, 10), { n: Math.floor(random() * 1e6) });
      if (random() < 0.2) span.setStatus({ code: SpanStatusCode.ERROR, message: randomText(random, Math.floor(random() * 300)) });
      span.end();
    }
    const spans = exporter.getFinishedSpans();
    const encoder = new OtlpSpanEncoder();
    for (let start = 0; start < spans.length; start += 37) expectSameMessage(spans.slice(start, start + 37), encoder);
  });

  it('repeated key-value pairs (copied from the encoder cache) and keys that outgrow it', () => {
    const { provider, exporter } = recordingProvider({ 'service.name': 'tollbooth' });
    const tracer = provider.getTracer('t');
    const lookalikes: AttributeValue[] = ['200', 200, 200.5, 'true', true, 1, '1', false, 0, ''];
    for (let i = 0; i < 120; i++) {
      tracer
        .startSpan(`span ${i % 3}`, {
          attributes: {
            'gen_ai.operation.name': 'chat',
            'http.response.status_code': i % 7 === 0 ? 503 : 200,
            'tollbooth.request_id': `req-${i}`,
            'tollbooth.overhead_ms': i / 8,
            'lookalike': lookalikes[i % lookalikes.length]!,
            'gen_ai.response.finish_reasons': ['stop'],
            [`key.${i % 40}`]: i % 2 === 0,
          },
        })
        .end();
    }
    const spans = exporter.getFinishedSpans();
    const encoder = new OtlpSpanEncoder();
    for (let start = 0; start < spans.length; start += 25) expectSameMessage(spans.slice(start, start + 25), encoder);
    expectSameMessage(spans, encoder);
  });

  it('returns bytes of its own: a later batch does not overwrite an earlier one held for a retry', () => {
    const { provider, exporter } = recordingProvider({ 'service.name': 'tollbooth' });
    provider.getTracer('t').startSpan('first', { attributes: { a: 'x'.repeat(100) } }).end();
    provider.getTracer('t').startSpan('second', { attributes: { b: 'y'.repeat(100_000) } }).end();
    const [first, second] = exporter.getFinishedSpans() as [ReadableSpan, ReadableSpan];
    const encoder = new OtlpSpanEncoder();
    const held = encoder.encode([first]);
    const copy = Buffer.from(held);
    encoder.encode([second]);
    expect(held).toEqual(copy);
    expect(decodeTraceRequest(held)).toEqual(decodeTraceRequest(standard([first])));
  });
});

describe('otlpTraceExport (http/protobuf, from the export thread) sends what the standard exporter would', () => {
  const saved = { ...process.env };
  let server: Server | undefined;
  afterEach(async () => {
    process.env = { ...saved };
    await new Promise<void>((done) => (server === undefined ? done() : server.close(() => done())));
    server = undefined;
  });

  async function collector(status: number): Promise<{ url: string; received: Promise<{ request: IncomingMessage; body: Buffer }> }> {
    let deliver: (value: { request: IncomingMessage; body: Buffer }) => void = () => {};
    const received = new Promise<{ request: IncomingMessage; body: Buffer }>((resolve) => (deliver = resolve));
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        response.writeHead(status, { 'content-type': 'application/x-protobuf' }).end();
        deliver({ request, body: Buffer.concat(chunks) });
      });
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, received };
  }

  function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
    return new Promise((done) => exporter.export(spans, done));
  }

  function someSpans(): ReadableSpan[] {
    const { provider, exporter } = recordingProvider({ 'service.name': 'tollbooth' });
    const span = provider.getTracer('tollbooth').startSpan('chat llama-3-8b', { kind: SpanKind.CLIENT, attributes: EVERY_KIND });
    span.addEvent('gen_ai.first_token', { 'tollbooth.ttft_ms': 3.25 });
    span.end();
    return exporter.getFinishedSpans();
  }

  it('POST {endpoint}/v1/traces with the configured headers, gzip when asked, the same message', async () => {
    const { url, received } = await collector(200);
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=acme,authorization=Bearer%20t0k';
    process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip';
    const { exporter } = otlpTraceExport('http/protobuf', { threadModule: builtExportThread() });
    const spans = someSpans();
    const result = await exportOnce(exporter, spans);
    const { request, body } = await received;
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1/traces');
    expect(request.headers['content-type']).toBe('application/x-protobuf');
    expect(request.headers['x-tenant']).toBe('acme');
    expect(request.headers.authorization).toBe('Bearer t0k');
    expect(request.headers['content-encoding']).toBe('gzip');
    expect(decodeTraceRequest(gunzipSync(body))).toEqual(decodeTraceRequest(standard(spans)));
    await exporter.shutdown();
  });

  it('a signal-specific endpoint is used as given; a rejecting collector fails the export', async () => {
    const { url, received } = await collector(400);
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${url}/custom/path`;
    const { exporter } = otlpTraceExport('http/protobuf', { threadModule: builtExportThread() });
    const result = await exportOnce(exporter, someSpans());
    expect((await received).request.url).toBe('/custom/path');
    expect(result.code).toBe(ExportResultCode.FAILED);
    await exporter.shutdown();
  });
});

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const ALPHABET = ['a', 'z', '.', '_', ' ', '0', 'é', 'ß', '漢', '🙂', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800'];

function randomText(random: () => number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += random() < 0.8 ? String.fromCharCode(97 + Math.floor(random() * 26)) : ALPHABET[Math.floor(random() * ALPHABET.length)]!;
  return text;
}

function randomNumber(random: () => number): number {
  const pick = random();
  if (pick < 0.4) return Math.floor(random() * 1000);
  if (pick < 0.6) return Math.floor((random() - 0.5) * 2 ** (1 + Math.floor(random() * 62)));
  return (random() - 0.5) * 10 ** Math.floor(random() * 20 - 10);
}

function randomValue(random: () => number): AttributeValue {
  const pick = random();
  if (pick < 0.45) return randomText(random, Math.floor(random() * (random() < 0.9 ? 80 : 2000)));
  if (pick < 0.7) return randomNumber(random);
  if (pick < 0.8) return random() < 0.5;
  const length = Math.floor(random() * 6);
  if (pick < 0.9) return Array.from({ length }, () => randomText(random, Math.floor(random() * 30)));
  if (pick < 0.95) return Array.from({ length }, () => randomNumber(random));
  return Array.from({ length }, () => random() < 0.5);
}
