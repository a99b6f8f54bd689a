/**
 * The OTLP export thread (a worker thread of the gateway process, started by `ThreadedOtlpExporter`).
 * It does tracing's work that no request waits for:
 * - request spans: it receives each request's span facts from the event loop (span-facts-codec.ts),
 *   batches them as the SDK's batch processor would batch their spans (span-batcher.ts), encodes
 *   each batch's spans straight from the facts (request-span-encoder.ts) and sends it;
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
import { ExportResultCode, type ExportResult, type InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { otlpTraceTransport, type TraceProtocol } from './otlp-transport.js';
import type { RequestSpanFacts } from './request-span-facts.js';
import { RequestSpanEncoder } from './request-span-encoder.js';
import { SpanBatcher, type BatchSettings } from './span-batcher.js';
import { readChunk, spanCountOf, type FactsChunk } from './span-facts-codec.js';
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
  let batcher: SpanBatcher<RequestSpanFacts> | undefined;

  const setUp = (setup: RequestSpanSetup): SpanBatcher<RequestSpanFacts> => {
    const resource = resourceFromAttributes(setup.resourceAttributes, setup.resourceSchemaUrl === undefined ? {} : { schemaUrl: setup.resourceSchemaUrl });
    const encoder = new RequestSpanEncoder(resource, setup.scope, setup.limits);
    return new SpanBatcher<RequestSpanFacts>(
      setup.batch,
      spanCountOf,
      (batch, spans, done) => transport.export({ body: encoder.encode(batch), spans }, done),
      (result, spans) => port.postMessage({ kind: 'request-spans-exported', spans, code: result.code, error: errorOf(result) } satisfies ExportThreadAnswer),
    );
  };

  const received = (chunk: FactsChunk) => {
    let facts: RequestSpanFacts[];
    try {
      if (batcher === undefined) throw new Error('request span facts arrived before their set-up');
      facts = readChunk(chunk);
    } catch (error) {
      // Spans of a chunk that cannot be read are settled as failed: the event loop's count of spans in flight stays true.
      port.postMessage({ kind: 'request-spans-exported', spans: chunk.spans, code: ExportResultCode.FAILED, error: threadError(error) } satisfies ExportThreadAnswer);
      return;
    } finally {
      port.postMessage({ kind: 'facts-arrays', numbers: chunk.numbers, chars: chunk.chars } satisfies ExportThreadAnswer, [chunk.numbers.buffer, chunk.chars.buffer]);
    }
    batcher.add(facts);
  };

  port.on('message', (request: ExportThreadRequest) => {
    switch (request.kind) {
      case 'export':
        transport.export({ body: request.body, spans: request.spans }, (result) =>
          port.postMessage({ kind: 'exported', id: request.id, code: result.code, error: errorOf(result) } satisfies ExportThreadAnswer),
        );
        return;
      case 'request-spans':
        batcher = setUp(request.setup);
        return;
      case 'facts':
        received(request.chunk);
        return;
      case 'flush':
        void (batcher?.flush() ?? Promise.resolve()).then(() => port.postMessage({ kind: 'flushed', id: request.id } satisfies ExportThreadAnswer));
        return;
      case 'shutdown':
        void (batcher?.flush() ?? Promise.resolve())
          .then(() => transport.shutdown())
          .finally(() => port.postMessage({ kind: 'shut-down' } satisfies ExportThreadAnswer));
        return;
    }
  });
}
