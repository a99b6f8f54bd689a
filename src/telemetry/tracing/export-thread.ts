/**
 * The OTLP export thread (a worker thread of the gateway process, started by `ThreadedOtlpExporter`).
 * It does tracing's work that no request waits for:
 * - request spans: it receives each request's span facts from the event loop (span-facts-codec.ts),
 *   builds the spans (request-spans.ts), batches them as the SDK's batch processor would
 *   (span-batcher.ts), encodes each batch (otlp-span-encoder.ts) and sends it;
 * - library spans (ioredis), which the SDK's batch processor on the event loop batched and encoded:
 *   it sends their request bodies as they come;
 * and answers every export with its result.
 *
 * Why a thread of its own: the event loop is what limits a gateway's throughput. Building,
 * encoding and sending two spans per request cost it tens of µs per request under the streaming
 * benchmark's load (test/bench/RESULTS.md, sessions 5 to 7); gathering the facts costs it a few.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode, TraceState, type ExportResult, type InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { OtlpSpanEncoder } from './otlp-span-encoder.js';
import { otlpTraceTransport, type TraceProtocol } from './otlp-transport.js';
import { RequestSpanBuilder } from './request-spans.js';
import { SpanBatcher, type BatchSettings } from './span-batcher.js';
import { readChunk, type FactsChunk } from './span-facts-codec.js';
import type { AttributeLimits } from './span-pipeline.js';

/** What request spans carry, as it crosses to the thread: the resource's attributes, the scope, the limits. */
export interface RequestSpanSetup {
  readonly resourceAttributes: Attributes;
  readonly resourceSchemaUrl: string | undefined;
  readonly scope: InstrumentationScope;
  readonly limits: AttributeLimits;
  readonly batch: BatchSettings;
}

/** What the event loop's thread asks. Bodies and fact arrays arrive transferred, not copied. */
export type ExportThreadRequest =
  | { readonly kind: 'export'; readonly id: number; readonly body: Uint8Array; readonly spans: number }
  | { readonly kind: 'request-spans'; readonly setup: RequestSpanSetup }
  | { readonly kind: 'facts'; readonly chunk: FactsChunk }
  | { readonly kind: 'flush'; readonly id: number }
  | { readonly kind: 'shutdown' };

/**
 * What the thread answers: one `exported` per `export`; one `request-spans-exported` per batch
 * of request spans (with how many spans it settled); the arrays of each `facts` chunk, handed back
 * for reuse; one `flushed` per `flush`; one `shut-down` once everything held was sent.
 */
export type ExportThreadAnswer =
  | { readonly kind: 'exported'; readonly id: number; readonly code: ExportResultCode; readonly error: ThreadError | undefined }
  | { readonly kind: 'request-spans-exported'; readonly spans: number; readonly code: ExportResultCode; readonly error: ThreadError | undefined }
  | { readonly kind: 'facts-arrays'; readonly numbers: Float64Array<ArrayBuffer>; readonly chars: Uint16Array<ArrayBuffer> }
  | { readonly kind: 'flushed'; readonly id: number }
  | { readonly kind: 'shut-down' };

/** An error as it crosses threads: what the log prints of it. */
export interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly code: string | number | undefined;
}

export interface ExportThreadData {
  readonly protocol: TraceProtocol;
}

function threadError(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), code: undefined };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, code: typeof code === 'string' || typeof code === 'number' ? code : undefined };
}

function errorOf(result: ExportResult): ThreadError | undefined {
  return result.error === undefined ? undefined : threadError(result.error);
}

const port = parentPort;
if (port !== null) {
  const { protocol } = workerData as ExportThreadData;
  // Messages sent while the transport loads wait on the port: it starts delivering when the listener is added.
  const transport = await otlpTraceTransport(protocol);
  const encoder = new OtlpSpanEncoder();
  let requestSpans: { readonly builder: RequestSpanBuilder; readonly batcher: SpanBatcher } | undefined;

  const setUp = (setup: RequestSpanSetup) => {
    const resource = resourceFromAttributes(setup.resourceAttributes, setup.resourceSchemaUrl === undefined ? {} : { schemaUrl: setup.resourceSchemaUrl });
    const builder = new RequestSpanBuilder({ resource, scope: setup.scope, limits: setup.limits, parseTraceState: (header) => new TraceState(header) });
    const batcher = new SpanBatcher(
      setup.batch,
      (spans, done) => transport.export({ body: encoder.encode(spans), spans: spans.length }, done),
      (result, spans) => port.postMessage({ kind: 'request-spans-exported', spans, code: result.code, error: errorOf(result) } satisfies ExportThreadAnswer),
    );
    return { builder, batcher };
  };

  const received = (chunk: FactsChunk) => {
    const spans: ReadableSpan[] = [];
    try {
      const facts = readChunk(chunk);
      if (requestSpans === undefined) throw new Error('request span facts arrived before their set-up');
      const emit = (span: ReadableSpan) => spans.push(span);
      for (const one of facts) requestSpans.builder.build(one, emit);
    } catch (error) {
      // Spans of a chunk that cannot be read are settled as failed: the event loop's count of spans in flight stays true.
      port.postMessage({ kind: 'request-spans-exported', spans: chunk.spans, code: ExportResultCode.FAILED, error: threadError(error) } satisfies ExportThreadAnswer);
      return;
    } finally {
      port.postMessage({ kind: 'facts-arrays', numbers: chunk.numbers, chars: chunk.chars } satisfies ExportThreadAnswer, [chunk.numbers.buffer, chunk.chars.buffer]);
    }
    requestSpans.batcher.add(spans);
  };

  port.on('message', (request: ExportThreadRequest) => {
    switch (request.kind) {
      case 'export':
        transport.export({ body: request.body, spans: request.spans }, (result) =>
          port.postMessage({ kind: 'exported', id: request.id, code: result.code, error: errorOf(result) } satisfies ExportThreadAnswer),
        );
        return;
      case 'request-spans':
        requestSpans = setUp(request.setup);
        return;
      case 'facts':
        received(request.chunk);
        return;
      case 'flush':
        void (requestSpans?.batcher.flush() ?? Promise.resolve()).then(() => port.postMessage({ kind: 'flushed', id: request.id } satisfies ExportThreadAnswer));
        return;
      case 'shutdown':
        void (requestSpans?.batcher.flush() ?? Promise.resolve())
          .then(() => transport.shutdown())
          .finally(() => port.postMessage({ kind: 'shut-down' } satisfies ExportThreadAnswer));
        return;
    }
  });
}
