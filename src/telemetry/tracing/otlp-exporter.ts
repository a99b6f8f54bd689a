import { Worker } from 'node:worker_threads';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ExportThreadAnswer, ExportThreadData, ExportThreadRequest, RequestSpanSetup, ThreadError } from './export-thread.js';
import { OtlpSpanEncoder } from './otlp-span-encoder.js';
import type { TraceProtocol } from './otlp-transport.js';
import type { RequestSpanFacts, RequestSpanSink } from './request-span-facts.js';
import { FactsWriter, spanCountOf, writeRequestSpanFacts } from './span-facts-codec.js';

/**
 * The gateway's OTLP span exporter, whose work runs on the export thread (export-thread.ts):
 * - request spans reach it as facts (`requestSpans`): the event loop writes each request's facts
 *   into a chunk and transfers the chunk; the thread builds, batches, encodes and sends the spans;
 * - library spans (ioredis) come from the SDK's batch processor (`export`): the event loop encodes
 *   each batch with `OtlpSpanEncoder` and transfers the body, which the thread sends.
 * The event loop never builds a request span and never waits on the network.
 */

/** The export thread's module, beside this one in the build. */
export const EXPORT_THREAD_MODULE = new URL('./export-thread.js', import.meta.url);
/** How long exports fail fast after the export thread died, before a new one is started. */
const RESTART_DELAY_MS = 5_000;
/**
 * Request facts go to the thread this many requests at a time, or when the chunk is nearly full…
 * Each hand-over wakes the export thread, which may then take the event loop's core for the
 * whole chunk's work, and every chunk costs the thread a fixed part (waking, receiving,
 * answering). Timed inside the gateway under the streaming benchmark's load, hand-overs of 64
 * requests held the event loop 100–250 µs each on average (up to 5 ms), 2–5 µs per request;
 * chunks of up to 256 requests halved that per request, and in an interleaved A/B of the two
 * sizes cut what tracing added to the event loop's CPU from 19 to 0 µs per request and to the
 * process's from 38 to 21 µs (commit 97ef895; the A/B script is in git history).
 */
const RECORDS_PER_CHUNK = 256;
/** …or this long after the first of them was written (spans then wait in the thread's batches as they would in the SDK's). */
const CHUNK_DELAY_MS = 100;

/** The gateway's OTLP exporter (library spans through `export`, request spans through `requestSpans`). */
export interface OtlpTraceExport {
  readonly exporter: ThreadedOtlpExporter;
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
  return { exporter: new ThreadedOtlpExporter(encoder, startThread) };
}

/**
 * The exporter half that runs on the event loop: hands library-span batches (encoded here) and
 * request-span facts (`requestSpans`) to the export thread, and settles what it answers. If the
 * thread dies, what it held fails (the reporting exporter logs that once), exports fail fast for
 * a few seconds, then a new thread is started. The thread never keeps the process alive.
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
  private facts: FactsQueue | undefined;

  constructor(
    private readonly encoder: OtlpSpanEncoder,
    private readonly startThread: () => Worker,
    private readonly restartDelayMs = RESTART_DELAY_MS,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const thread = this.running();
    if (thread === undefined) {
      resultCallback(this.unavailable());
      return;
    }
    const body = this.encoder.encode(spans);
    // The body has a buffer of its own (see `encode`): handed over, not copied.
    this.send(thread, { kind: 'export', id: this.expect(resultCallback), body, spans: spans.length }, [body.buffer as ArrayBuffer]);
  }

  /**
   * Request spans go to the export thread as facts from now on: `setup` says what they carry, and
   * `settled` hears the outcome of every batch of them. At most `setup.batch.maxQueueSize` spans
   * are in flight (written and not yet settled by the thread); the facts of a request that would
   * pass that bound are dropped, as the SDK's batch processor drops spans when its queue is full.
   */
  requestSpans(setup: RequestSpanSetup, settled: (result: ExportResult) => void): RequestSpanSink {
    const facts = new FactsQueue(setup, settled, () => this.running());
    this.facts = facts;
    const thread = this.thread;
    if (thread !== undefined) this.send(thread, { kind: 'request-spans', setup });
    return facts;
  }

  /** Resolves when every export handed to the thread has been answered, request spans included. */
  async forceFlush(): Promise<void> {
    const facts = this.facts;
    const thread = facts === undefined ? undefined : this.running();
    if (facts !== undefined && thread !== undefined) {
      facts.send();
      await new Promise<ExportResult>((done) => this.send(thread, { kind: 'flush', id: this.expect(done) }));
    }
    if (this.pending.size === 0) return;
    await new Promise<void>((done) => this.idle.push(done));
  }

  /** Lets the thread send what it holds (the transport's own timeouts bound that), then stops it. */
  async shutdown(): Promise<void> {
    this.facts?.send();
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

  private send(thread: Worker, request: ExportThreadRequest, transfer: ArrayBuffer[] = []): void {
    thread.postMessage(request, transfer);
  }

  /** An id for a request the thread will answer, and who hears the answer. */
  private expect(callback: (result: ExportResult) => void): number {
    const id = this.nextId++;
    this.pending.set(id, callback);
    return id;
  }

  private unavailable(): ExportResult {
    return { code: ExportResultCode.FAILED, error: this.stopped ? new Error('the exporter is shut down') : this.lastLoss };
  }

  private running(): Worker | undefined {
    if (this.thread === undefined && !this.stopped && performance.now() >= this.restartAt) this.thread = this.started();
    return this.thread;
  }

  private started(): Worker {
    const thread = this.startThread();
    thread.unref();
    thread.on('message', (answer: ExportThreadAnswer) => {
      switch (answer.kind) {
        case 'exported':
          this.settle(answer.id, { code: answer.code, ...(answer.error === undefined ? {} : { error: errorFrom(answer.error) }) });
          return;
        case 'flushed':
          this.settle(answer.id, { code: ExportResultCode.SUCCESS });
          return;
        case 'request-spans-exported':
          this.facts?.settled(answer.spans, { code: answer.code, ...(answer.error === undefined ? {} : { error: errorFrom(answer.error) }) });
          return;
        case 'facts-arrays':
          this.facts?.reuse(answer.numbers, answer.chars);
          return;
        default:
          return;
      }
    });
    thread.on('error', (error) => this.lost(thread, error));
    thread.on('exit', (code) => this.lost(thread, new Error(`the OTLP export thread exited (code ${code})`)));
    if (this.facts !== undefined) this.send(thread, { kind: 'request-spans', setup: this.facts.setup });
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
    this.facts?.lost(error);
  }
}

/**
 * Request span facts on their way to the export thread: written into a chunk as requests finish,
 * the chunk transferred every RECORDS_PER_CHUNK requests (or when nearly full, or CHUNK_DELAY_MS
 * after its first request), and the spans in flight counted until the thread settles them.
 */
class FactsQueue implements RequestSpanSink {
  private readonly writer = new FactsWriter();
  /** Spans written and not yet settled by the thread: the export queue's bound applies to these. */
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly setup: RequestSpanSetup,
    private readonly outcome: (result: ExportResult) => void,
    private readonly thread: () => Worker | undefined,
  ) {}

  add(facts: RequestSpanFacts): void {
    // An unsampled span is never exported (the SDK's batch processor drops it too).
    if (!facts.sampled) return;
    const spans = spanCountOf(facts);
    if (this.inFlight + spans > this.setup.batch.maxQueueSize) return;
    this.inFlight += spans;
    writeRequestSpanFacts(this.writer, facts);
    if (this.writer.records >= RECORDS_PER_CHUNK || this.writer.nearlyFull) this.send();
    else this.timer ??= setTimeout(() => this.send(), CHUNK_DELAY_MS).unref();
  }

  /** Transfers the chunk written so far, if any, to the thread; with no thread running, its spans fail. */
  send(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writer.records === 0) return;
    const chunk = this.writer.take();
    const thread = this.thread();
    if (thread === undefined) {
      this.reuse(chunk.numbers, chunk.chars);
      this.settled(chunk.spans, { code: ExportResultCode.FAILED, error: new Error('the OTLP export thread is not running') });
      return;
    }
    thread.postMessage({ kind: 'facts', chunk } satisfies ExportThreadRequest, [chunk.numbers.buffer, chunk.chars.buffer]);
  }

  settled(spans: number, result: ExportResult): void {
    this.inFlight = Math.max(0, this.inFlight - spans);
    this.outcome(result);
  }

  reuse(numbers: Float64Array<ArrayBuffer>, chars: Uint16Array<ArrayBuffer>): void {
    this.writer.reuse(numbers, chars);
  }

  /** The thread died with spans in it: none of them will be settled, and they are counted out. */
  lost(error: Error): void {
    const unsent = this.writer.spans;
    if (this.inFlight > unsent) this.settled(this.inFlight - unsent, { code: ExportResultCode.FAILED, error });
  }
}

function errorFrom(crossed: ThreadError): Error {
  const error = new Error(crossed.message);
  error.name = crossed.name;
  if (crossed.code !== undefined) (error as Error & { code?: string | number }).code = crossed.code;
  return error;
}
