import { Worker } from 'node:worker_threads';
import { TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ExportThreadAnswer, ExportThreadData, ExportThreadRequest, ThreadError } from './export-thread.js';
import { OtlpSpanEncoder } from './otlp-span-encoder.js';
import type { TraceProtocol } from './otlp-transport.js';

/**
 * The gateway's OTLP span exporter: the batch processor's batches are encoded on the event loop
 * by `OtlpSpanEncoder` (most request spans already are, as they ended: `encodedAtEnd`), and sent
 * from the export thread (export-thread.ts) by the standard OTLP transport. The event loop only
 * copies bytes and hands the body over; it never waits on the network.
 */

/** The export thread's module, beside this one in the build. */
export const EXPORT_THREAD_MODULE = new URL('./export-thread.js', import.meta.url);
/** How long exports fail fast after the export thread died, before a new one is started. */
const RESTART_DELAY_MS = 5_000;

/** An OTLP exporter and the encoder it writes request bodies with (`encodedAtEnd` shares it). */
export interface OtlpTraceExport {
  readonly exporter: SpanExporter;
  readonly encoder: OtlpSpanEncoder;
}

export interface OtlpTraceExportOptions {
  /** The environment the transport reads its OTEL_EXPORTER_OTLP_* settings from (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** The export thread's module (default: the built one beside this module). */
  readonly threadModule?: URL;
}

export function otlpTraceExport(protocol: TraceProtocol, options: OtlpTraceExportOptions = {}): OtlpTraceExport {
  const encoder = new OtlpSpanEncoder();
  const data: ExportThreadData = { protocol };
  const startThread = (): Worker => new Worker(options.threadModule ?? EXPORT_THREAD_MODULE, { workerData: data, env: { ...(options.env ?? process.env) } });
  return { exporter: new ThreadedOtlpExporter(encoder, startThread), encoder };
}

/**
 * The span processor request spans go to: each sampled span is encoded as it ends
 * (`OtlpSpanEncoder.encodeEarly`, for the reason `EncodedSpan` gives) and queued as bytes in
 * `processor`, the batch processor in front of the exporter that writes with the same `encoder`.
 * Unsampled spans go as they are (the batch processor drops them).
 */
export function encodedAtEnd(processor: Pick<SpanProcessor, 'onEnd'>, encoder: OtlpSpanEncoder): Pick<SpanProcessor, 'onEnd'> {
  return {
    onEnd: (span) => {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return processor.onEnd(span);
      // The batch processor reads only the sampled flag and the resource of what it queues; the encoder reads the rest.
      processor.onEnd(encoder.encodeEarly(span) as unknown as ReadableSpan);
    },
  };
}

/**
 * Encodes each batch and transfers the body to the export thread, which answers with the
 * export's result. If the thread dies, the exports it held fail (the reporting exporter logs that
 * once), exports fail fast for a few seconds, then a new thread is started. The thread never keeps
 * the process alive.
 */
export class ThreadedOtlpExporter implements SpanExporter {
  private thread: Worker | undefined;
  private readonly pending = new Map<number, (result: ExportResult) => void>();
  private nextId = 0;
  private restartAt = 0;
  private stopped = false;
  /** Why the last thread was lost: what exports answer until the next one starts. */
  private lastLoss = new Error('the OTLP export thread stopped');
  /** forceFlush callers waiting for `pending` to empty. */
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly encoder: OtlpSpanEncoder,
    private readonly startThread: () => Worker,
    private readonly restartDelayMs = RESTART_DELAY_MS,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const thread = this.running();
    if (thread === undefined) {
      resultCallback({ code: ExportResultCode.FAILED, error: this.stopped ? new Error('the exporter is shut down') : this.lastLoss });
      return;
    }
    // Encoding copies the queued spans' bytes out of their slabs, which frees the slabs for reuse.
    const body = this.encoder.encode(spans);
    const id = this.nextId++;
    this.pending.set(id, resultCallback);
    const request: ExportThreadRequest = { kind: 'export', id, body, spans: spans.length };
    // The body has a buffer of its own (see `encode`): handed over, not copied.
    thread.postMessage(request, [body.buffer as ArrayBuffer]);
  }

  /** Resolves when every export handed to the thread has been answered. */
  forceFlush(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((done) => this.idle.push(done));
  }

  /** Lets the thread finish what it holds (the transport's own timeouts bound that), then stops it. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const thread = this.thread;
    if (thread === undefined) return;
    await new Promise<void>((done) => {
      thread.on('message', (answer: ExportThreadAnswer) => {
        if (answer.kind === 'shut-down') done();
      });
      thread.once('exit', () => done());
      thread.postMessage({ kind: 'shutdown' } satisfies ExportThreadRequest);
    });
    this.thread = undefined;
    await thread.terminate();
  }

  private running(): Worker | undefined {
    if (this.thread === undefined && !this.stopped && performance.now() >= this.restartAt) this.thread = this.started();
    return this.thread;
  }

  private started(): Worker {
    const thread = this.startThread();
    thread.unref();
    thread.on('message', (answer: ExportThreadAnswer) => {
      if (answer.kind === 'exported') this.settle(answer.id, { code: answer.code, ...(answer.error === undefined ? {} : { error: errorFrom(answer.error) }) });
    });
    thread.on('error', (error) => this.lost(thread, error));
    thread.on('exit', (code) => this.lost(thread, new Error(`the OTLP export thread exited (code ${code})`)));
    return thread;
  }

  private settle(id: number, result: ExportResult): void {
    const callback = this.pending.get(id);
    if (callback === undefined) return;
    this.pending.delete(id);
    callback(result);
    if (this.pending.size === 0) for (const done of this.idle.splice(0)) done();
  }

  private lost(thread: Worker, error: Error): void {
    if (this.thread !== thread) return;
    this.thread = undefined;
    this.lastLoss = error;
    this.restartAt = performance.now() + this.restartDelayMs;
    for (const id of [...this.pending.keys()]) this.settle(id, { code: ExportResultCode.FAILED, error });
  }
}

function errorFrom(crossed: ThreadError): Error {
  const error = new Error(crossed.message);
  error.name = crossed.name;
  if (crossed.code !== undefined) (error as Error & { code?: string | number }).code = crossed.code;
  return error;
}
