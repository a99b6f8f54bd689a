import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExportThreadData } from '../../../src/telemetry/tracing/export-thread.js';
import { ThreadedOtlpExporter } from '../../../src/telemetry/tracing/otlp-exporter.js';
import { OtlpSpanEncoder } from '../../../src/telemetry/tracing/otlp-span-encoder.js';
import { builtExportThread } from '../../helpers/cli.js';
import { decodeTraceRequest } from './otlp-decode.js';

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
