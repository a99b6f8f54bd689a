import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode, TraceState, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExportThreadData, RequestSpanSetup } from '../../../src/telemetry/tracing/export-thread.js';
import { ThreadedOtlpExporter } from '../../../src/telemetry/tracing/otlp-exporter.js';
import { OtlpSpanEncoder } from '../../../src/telemetry/tracing/otlp-span-encoder.js';
import type { RequestSpanFacts } from '../../../src/telemetry/tracing/request-span-facts.js';
import { SpanRecordWriter, writeRequestSpans } from '../../../src/telemetry/tracing/request-spans.js';
import { RandomIds } from '../../../src/telemetry/tracing/trace-context.js';
import type { BatchSettings } from '../../../src/telemetry/tracing/span-batcher.js';
import { builtExportThread } from '../../helpers/cli.js';
import { decodeTraceRequest } from './otlp-decode.js';
import { EVERYTHING, NOTHING_OPTIONAL } from './span-facts-fixtures.js';

/** A thread whose module throws as it loads, as a broken install would. */
const BROKEN_THREAD = new URL('data:text/javascript,throw new Error("the transport could not load")');

function someSpans(count: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  for (let i = 0; i < count; i++) provider.getTracer('tollbooth').startSpan(`chat model-${i}`, { kind: SpanKind.CLIENT }).end();
  return memory.getFinishedSpans();
}

function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((done) => exporter.export(spans, done));
}

/** A collector that answers each POST after `delayMs`, keeping what it received. */
async function slowCollector(delayMs: number): Promise<{ server: Server; url: string; bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(), delayMs);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

describe('ThreadedOtlpExporter: batches sent from a worker thread', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  function exporterTo(url: string | undefined, threadModule: URL, restartDelayMs?: number): { exporter: ThreadedOtlpExporter; starts: () => number } {
    let starts = 0;
    const data: ExportThreadData = { protocol: 'http/protobuf' };
    const exporter = new ThreadedOtlpExporter(
      new OtlpSpanEncoder(),
      () => {
        starts += 1;
        return new Worker(threadModule, { workerData: data, env: { OTEL_EXPORTER_OTLP_ENDPOINT: url ?? 'http://127.0.0.1:9' } });
      },
      restartDelayMs,
    );
    closers.push(() => exporter.shutdown());
    return { exporter, starts: () => starts };
  }

  it('sends each batch once, as the standard serializer would encode it, and answers with the transport\'s result', async () => {
    const collector = await slowCollector(0);
    closers.push(() => new Promise((done) => collector.server.close(() => done())));
    const { exporter, starts } = exporterTo(collector.url, builtExportThread());
    const batches = [someSpans(3), someSpans(2)];
    for (const spans of batches) expect((await exportOnce(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    expect(collector.bodies.map((body) => decodeTraceRequest(body))).toEqual(batches.map((spans) => decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans)!)));
    expect(starts()).toBe(1);
  });

  it('forceFlush resolves once every export handed over has been answered', async () => {
    const collector = await slowCollector(150);
    closers.push(() => new Promise((done) => collector.server.close(() => done())));
    const { exporter } = exporterTo(collector.url, builtExportThread());
    let answered = false;
    exporter.export(someSpans(1), () => {
      answered = true;
    });
    await exporter.forceFlush();
    expect(answered).toBe(true);
  });

  it('shutdown lets the thread answer what it holds, then exports fail as shut down', async () => {
    const collector = await slowCollector(150);
    closers.push(() => new Promise((done) => collector.server.close(() => done())));
    const { exporter } = exporterTo(collector.url, builtExportThread());
    const inFlight = exportOnce(exporter, someSpans(1));
    await exporter.shutdown();
    expect((await inFlight).code).toBe(ExportResultCode.SUCCESS);
    const after = await exportOnce(exporter, someSpans(1));
    expect(after.code).toBe(ExportResultCode.FAILED);
    expect(after.error?.message).toMatch(/shut down/);
  });

  it('a thread that dies fails what it held; exports fail fast until the restart delay, then a new thread starts', async () => {
    const { exporter, starts } = exporterTo(undefined, BROKEN_THREAD, 200);
    const first = await exportOnce(exporter, someSpans(1));
    expect(first.code).toBe(ExportResultCode.FAILED);
    expect(first.error?.message).toMatch(/could not load|exited/);
    const during = await exportOnce(exporter, someSpans(1));
    expect(during.code).toBe(ExportResultCode.FAILED);
    expect(starts()).toBe(1);
    await new Promise((done) => setTimeout(done, 250));
    const later = await exportOnce(exporter, someSpans(1));
    expect(later.code).toBe(ExportResultCode.FAILED);
    expect(starts()).toBe(2);
  });
});

describe('ThreadedOtlpExporter: request spans built, batched and sent by the thread from their facts', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  const RESOURCE = { 'service.name': 'tollbooth', 'host.name': 'gateway-1' };
  const SCOPE = { name: 'tollbooth', version: '0.1.0' };
  const NO_LIMITS = { countLimit: 128, valueLengthLimit: Infinity };

  function setup(batch: Partial<BatchSettings> = {}): RequestSpanSetup {
    return {
      resourceAttributes: RESOURCE,
      resourceSchemaUrl: undefined,
      scope: SCOPE,
      limits: NO_LIMITS,
      batch: { maxQueueSize: 2048, scheduledDelayMillis: 20, exportTimeoutMillis: 30_000, maxExportBatchSize: 512, ...batch },
    };
  }

  function threadedTo(url: string, threadModule = builtExportThread()): ThreadedOtlpExporter {
    const data: ExportThreadData = { protocol: 'http/protobuf' };
    const exporter = new ThreadedOtlpExporter(new OtlpSpanEncoder(), () => new Worker(threadModule, { workerData: data, env: { OTEL_EXPORTER_OTLP_ENDPOINT: url } }), 200);
    closers.push(() => exporter.shutdown());
    return exporter;
  }

  /** The spans of `facts` as span records made in process, with the thread's resource and scope. */
  function builtInProcess(facts: readonly RequestSpanFacts[]): ReadableSpan[] {
    const built: ReadableSpan[] = [];
    const writer = new SpanRecordWriter({ resource: resourceFromAttributes(RESOURCE), scope: SCOPE, limits: NO_LIMITS, parseTraceState: (header) => new TraceState(header) }, (span) => built.push(span));
    for (const one of facts) writeRequestSpans(one, writer, new RandomIds());
    return built;
  }

  const spanCount = (bodies: readonly Buffer[]) =>
    bodies.map((body) => decodeTraceRequest(body) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] }).reduce(
      (sum, request) => sum + request.resourceSpans.reduce((inResource, resourceSpans) => inResource + resourceSpans.scopeSpans.reduce((inScope, scope) => inScope + scope.spans.length, 0), 0),
      0,
    );

  it('sends the message span records made in process and the standard serializer make, and says how each batch went', async () => {
    const collector = await slowCollector(0);
    closers.push(() => new Promise((done) => collector.server.close(() => done())));
    const exporter = threadedTo(collector.url);
    const results: ExportResult[] = [];
    const sink = exporter.requestSpans(setup(), (result) => results.push(result));
    // No rate limit: its span's id is the builder's own random choice, so two builds differ there.
    const facts = [0, 1, 2].map((i) => ({ ...EVERYTHING, rateLimit: undefined, requestId: `req-${i}`, spanId: `00f067aa0ba902b${i}` }));
    for (const one of facts) sink.add(one);
    await exporter.forceFlush();
    expect(collector.bodies).toHaveLength(1);
    expect(decodeTraceRequest(collector.bodies[0]!)).toEqual(decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(builtInProcess(facts))!));
    expect(results.map((result) => result.code)).toEqual([ExportResultCode.SUCCESS]);
  });

  it('never sends an unsampled request; with a rate limit, a request makes its rate_limit span too', async () => {
    const collector = await slowCollector(0);
    closers.push(() => new Promise((done) => collector.server.close(() => done())));
    const exporter = threadedTo(collector.url);
    const sink = exporter.requestSpans(setup(), () => {});
    sink.add(NOTHING_OPTIONAL);
    sink.add(EVERYTHING);
    await exporter.forceFlush();
    expect(spanCount(collector.bodies)).toBe(4);
  });

  it('drops the facts of requests that would pass the queue bound while spans are in flight, and takes new ones once they settle', async () => {
    const collector = await slowCollector(300);
    closers.push(() => new Promise((done) => collector.server.close(() => done())));
    const exporter = threadedTo(collector.url);
    const sink = exporter.requestSpans(setup({ maxQueueSize: 5 }), () => {});
    // Each makes two spans (SERVER and one attempt): two fit under five, the third does not.
    const twoSpans = { ...EVERYTHING, rateLimit: undefined, attempts: EVERYTHING.attempts.slice(1) };
    for (let i = 0; i < 3; i++) sink.add(twoSpans);
    await exporter.forceFlush();
    expect(spanCount(collector.bodies)).toBe(4);
    sink.add(twoSpans);
    await exporter.forceFlush();
    expect(spanCount(collector.bodies)).toBe(6);
  });

  it('a thread that dies fails the request spans it held, and their place in the queue is freed', async () => {
    const exporter = threadedTo('http://127.0.0.1:9', BROKEN_THREAD);
    const results: ExportResult[] = [];
    const sink = exporter.requestSpans(setup({ maxQueueSize: 4 }), (result) => results.push(result));
    sink.add(EVERYTHING);
    await exporter.forceFlush();
    while (results.length === 0) await new Promise((done) => setTimeout(done, 10));
    expect(results[0]!.code).toBe(ExportResultCode.FAILED);
    expect(results[0]!.error?.message).toMatch(/could not load|exited/);
    // Four spans fit again: nothing of the dead thread's share is still counted.
    sink.add(EVERYTHING);
    await exporter.forceFlush();
    while (results.length === 1) await new Promise((done) => setTimeout(done, 10));
    expect(results[1]!.code).toBe(ExportResultCode.FAILED);
  });
});
