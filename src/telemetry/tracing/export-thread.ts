/**
 * The OTLP export thread (a worker thread of the gateway process, started by `ThreadedOtlpExporter`).
 * It receives encoded request bodies from the event loop's thread and sends them with the standard
 * OTLP transport for the protocol (otlp-transport.ts), then answers each with its result.
 *
 * Why a thread of its own: at the streaming benchmark's load an export carries about 280 KB, ten
 * times a second. On the event loop's thread that work (the HTTP or gRPC request, the kernel's copy
 * of the body, retries) ran between relayed chunks; here the event loop only hands the body over.
 * In interleaved A/Bs with 100 % sampling (test/bench/RESULTS.md, session 5) the gateway served
 * 3.6 % and 6.4 % more streams per second with the thread than without it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ExportResult, ExportResultCode } from '@opentelemetry/core';
import { otlpTraceTransport, type TraceProtocol } from './otlp-transport.js';

/** What the event loop's thread asks. `body` arrives transferred, not copied. */
export type ExportThreadRequest =
  | { readonly kind: 'export'; readonly id: number; readonly body: Uint8Array; readonly spans: number }
  | { readonly kind: 'shutdown' };

/** What the thread answers: one `exported` per `export`, one `shut-down` once the transport has finished. */
export type ExportThreadAnswer =
  | { readonly kind: 'exported'; readonly id: number; readonly code: ExportResultCode; readonly error: ThreadError | undefined }
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

function answerOf(id: number, result: ExportResult): ExportThreadAnswer {
  return { kind: 'exported', id, code: result.code, error: result.error === undefined ? undefined : threadError(result.error) };
}

const port = parentPort;
if (port !== null) {
  const { protocol } = workerData as ExportThreadData;
  // Messages sent while the transport loads wait on the port: it starts delivering when the listener is added.
  const transport = await otlpTraceTransport(protocol);
  port.on('message', (request: ExportThreadRequest) => {
    if (request.kind === 'export') {
      transport.export({ body: request.body, spans: request.spans }, (result) => port.postMessage(answerOf(request.id, result)));
    } else {
      void transport.shutdown().finally(() => port.postMessage({ kind: 'shut-down' } satisfies ExportThreadAnswer));
    }
  });
}
