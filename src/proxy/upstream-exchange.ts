import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ErrorCode } from '../errors/catalogue.js';
import type { InternalErrors } from '../errors/internal-errors.js';
import { GatewayError, withTraceId } from '../errors/gateway-error.js';
import type { Replica } from '../routing/replica.js';
import { StreamTap } from '../streaming/stream-tap.js';
import type { RequestObservation } from '../lifecycle/observation.js';
import { TRACE_RESPONSE_HEADER } from '../lifecycle/request-listener.js';
import { USAGE_TAIL_BYTES, usageFromJsonTail } from './body-usage.js';
import { ErrorBodyCollector } from './error-body-collector.js';
import { rewriteResponseHeaders } from './headers.js';
import { ReplicaAttempt } from './replica-attempt.js';
import type { DrainableExchange, OpenExchanges } from './open-exchanges.js';
import { classifyTransportError, isRetryableBeforeHeaders } from './transport-errors.js';
import { writeJson } from './write-response.js';

/** Why the gateway aborted an upstream request: its client left. */
export class ClientDisconnectedError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientDisconnectedError';
  }
}

/** Why the gateway aborted an upstream request while its client was still there (timeout, bad answer, drain). */
export class UpstreamAbandonedError extends Error {
  constructor(reason: string) {
    super(`the gateway abandoned the upstream request: ${reason}`);
    this.name = 'UpstreamAbandonedError';
  }
}

export interface ExchangeSettings {
  readonly requestId: string;
  /** Guards the exchange's timer, the one callback of its own that undici does not call and catch. */
  readonly internalErrors: InternalErrors;
  readonly errorBodyLimitBytes: number;
  /** Longest time from dispatch to the first response body byte (upstream.headersTimeoutMs). */
  readonly firstByteTimeoutMs: number;
  /** Tap SSE bodies and read the usage of JSON bodies (off: bytes are only relayed). */
  readonly observeResponses: boolean;
  /** Name the serving replica in an x-tollbooth-replica response header. */
  readonly replicaHeader: boolean;
}

/** Where one try of the request goes. */
export interface UpstreamTarget {
  readonly replica: Replica;
  readonly dispatcher: Dispatcher;
  readonly options: Dispatcher.DispatchOptions;
}

/** The replicas to try next when one fails before answering; undefined when tries are spent. */
export interface FailoverPlan {
  next(failed: Replica): UpstreamTarget | undefined;
}

type Phase = 'awaiting-headers' | 'awaiting-body' | 'relaying' | 'collecting-error' | 'done';

const LF_LF = 0x0a0a;
const REPLICA_HEADER = 'x-tollbooth-replica';

/**
 * One request relayed from replicas to one client, as an undici dispatch handler: upstream bytes
 * go straight to the client socket as they arrive, with no stream objects in between.
 *
 * - Failover: a replica that cannot be reached or drops the connection before answering is
 *   replaced by the next one of the failover plan; once a byte has reached the client, never.
 * - Backpressure: when the client socket buffer is full the upstream read is paused until it
 *   drains, so a slow reader costs one socket buffer, never an unbounded queue.
 * - Client gone: the upstream request is aborted at once (queued, waiting for headers, or
 *   streaming), which closes that upstream connection so vLLM frees the sequence.
 * - Replica answers are untrusted: a status outside 100–599 never reaches the client (502); an
 *   error body (status >= 400) is read up to its limit, then the client is answered with what was
 *   kept and the upstream request aborted, so an endless error body costs neither memory nor time.
 * - First byte bounded: from dispatch to the first body byte, whatever the replica does with its
 *   headers (vLLM sends a stream's headers before the request leaves its queue), one timer.
 * - Transport failures become catalogued errors before the first byte, or an in-band SSE error
 *   frame after it, because a status can no longer be sent once a stream has started.
 * - Drain: the gateway's open exchanges are listed in OpenExchanges, and the drain deadline ends
 *   each one on purpose (endForDrain) so its telemetry still runs.
 * - Observation: an SSE body goes through the stream tap (first content, gaps, usage, errors);
 *   a JSON body's last few KiB are kept to read its usage. Each try counts as in flight on its
 *   replica, and tells the replica's circuit breaker how it went.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler, DrainableExchange {
  private controller: Dispatcher.DispatchController | undefined;
  /** Set once the upstream request must stop; applied as soon as it has a controller. */
  private abortReason: Error | undefined;
  private firstByteTimer: NodeJS.Timeout | undefined;
  /** A non-stream 2xx head, written with the first body byte so a replica silent after its headers still gets a 504. */
  private heldHead: { readonly status: number; readonly headers: OutgoingHttpHeaders } | undefined;
  private phase: Phase = 'awaiting-headers';
  private clientGone = false;
  private eventStream = false;
  /** The last two bytes written to the client, to tell whether an SSE frame is still open. */
  private tail = LF_LF;
  private errorBody: ErrorBodyCollector | undefined;
  private tap: StreamTap | undefined;
  /** The end of a 2xx JSON body, where its usage is. */
  private jsonTail: Buffer | undefined;
  private attempt!: ReplicaAttempt;
  /** When the last `write` returned (performance.now() ms). */
  private writtenAt = 0;

  constructor(
    private readonly response: ServerResponse,
    private readonly observation: RequestObservation,
    private readonly settings: ExchangeSettings,
    private readonly failover: FailoverPlan,
    private readonly openExchanges: OpenExchanges,
  ) {
    response.once('close', this.onClientClose);
  }

  /** Sends the request to its first replica; every outcome is then handled by this object. */
  start(target: UpstreamTarget): void {
    const now = performance.now();
    this.observation.dispatchedAt = now;
    this.openExchanges.add(this);
    this.firstByteTimer = setTimeout(this.onFirstByteTimeout, this.settings.firstByteTimeoutMs);
    this.tryOn(target, now);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The exchange may have ended (client gone, timeout, drain) while the request waited for a free upstream connection.
    if (this.abortReason !== undefined) controller.abort(this.abortReason);
  }

  /**
   * The drain deadline: ends the response in a way the client understands, aborts the upstream
   * request (vLLM frees the sequence), and marks the request drained. Nothing written yet: 503
   * shutting_down; a stream: an in-band shutting_down frame and [DONE]; a plain body cut midway: closed.
   */
  endForDrain(): void {
    if (this.phase === 'done' || this.clientGone) return;
    this.observation.drained = true;
    this.attempt.abandoned(performance.now());
    if (!this.response.headersSent) this.response.setHeader('connection', 'close');
    this.abandonUpstream('shutting_down');
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    const now = performance.now();
    this.observation.upstreamHeadersAt = now;
    if (statusCode < 100 || statusCode > 599) {
      // Not an HTTP status: nothing of this answer may reach the client.
      this.attempt.failed(now);
      if (!this.clientGone && this.phase !== 'done') this.abandonUpstream('upstream_bad_response');
      return;
    }
    this.attempt.answered(statusCode, now);
    if (this.clientGone || this.phase === 'done') return;
    if (statusCode >= 400) {
      this.phase = 'collecting-error';
      this.errorBody = new ErrorBodyCollector(statusCode, headers, this.settings.errorBodyLimitBytes);
      return;
    }
    const contentType = headers['content-type'];
    this.eventStream = typeof contentType === 'string' && contentType.startsWith('text/event-stream');
    if (this.settings.observeResponses) this.startObserving(contentType);
    if (this.eventStream) {
      this.writeHead(statusCode, this.responseHeaders(headers));
      // A stream's client should see it open now, not when the first token arrives.
      this.response.flushHeaders();
    } else {
      this.heldHead = { status: statusCode, headers: this.responseHeaders(headers) };
    }
    this.phase = 'awaiting-body';
  }

  /**
   * Two clock reads per relayed chunk: arrival (stream-tap timing: first content, gaps) and the
   * end of the write in `write` (relay delay; reused as the content-written time for TTFT/TPOT).
   */
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.phase === 'relaying') {
      const arrivedAt = performance.now();
      const tap = this.tap;
      let forward = chunk;
      let contentBefore = 0;
      if (tap !== undefined) {
        contentBefore = tap.facts.contentEvents;
        forward = tap.process(chunk, arrivedAt);
      } else if (this.jsonTail !== undefined) {
        this.jsonTail = keepTail(this.jsonTail, chunk);
      }
      if (forward.length === 0) return;
      if (!this.write(forward, arrivedAt)) {
        controller.pause();
        this.response.once('drain', this.onClientDrain);
      }
      if (tap !== undefined && tap.facts.contentEvents > contentBefore) this.contentWritten(this.writtenAt);
    } else if (this.phase === 'awaiting-body') {
      // Once per response: the relaying branch above, the hot one, stays free of first-byte checks.
      this.bodyStarted();
      this.onResponseData(controller, chunk);
    } else if (this.phase === 'collecting-error') {
      this.clearFirstByteTimer();
      if (this.errorBody!.add(chunk)) {
        // The limit is reached: the client is answered with what was kept, the rest is never read.
        this.phase = 'done';
        this.abortUpstream(new UpstreamAbandonedError('error body over upstream.errorBodyLimitBytes'));
        this.writeNormalisedError(this.errorBody!);
      }
    }
  }

  onResponseEnd(): void {
    this.clearFirstByteTimer();
    if (this.phase === 'awaiting-body') this.bodyStarted();
    if (this.phase === 'relaying') {
      this.phase = 'done';
      const held = this.tap?.finish();
      if (held !== undefined && held.length > 0) this.write(held, performance.now());
      if (this.jsonTail !== undefined) this.observation.bodyUsage = usageFromJsonTail(this.jsonTail);
      this.response.end();
    } else if (this.phase === 'collecting-error') {
      this.phase = 'done';
      this.writeNormalisedError(this.errorBody!);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const now = performance.now();
    // Our own abort after the client left: there is nobody to tell.
    if (this.clientGone || this.phase === 'done') return;
    this.attempt.failed(now);
    if (this.phase === 'awaiting-headers' && isRetryableBeforeHeaders(error)) {
      const next = this.failover.next(this.attempt.replica);
      if (next !== undefined) {
        this.observation.trace?.attemptFailed(error, now);
        this.observation.replicaBusyShareMs += this.attempt.end(now);
        this.observation.failovers += 1;
        this.tryOn(next, now);
        return;
      }
    }
    this.fail(classifyTransportError(error, this.phase !== 'awaiting-headers'));
  }

  private tryOn(target: UpstreamTarget, now: number): void {
    this.attempt = new ReplicaAttempt(target.replica, now);
    this.observation.replica = target.replica.name;
    this.controller = undefined;
    // Tracing: the try's CLIENT span starts now and its context goes into the request's traceparent.
    this.observation.trace?.attemptStarted(target, now);
    try {
      target.dispatcher.dispatch(target.options, this);
    } catch (error) {
      this.attempt.failed(performance.now());
      this.fail(classifyTransportError(error, false));
    }
  }

  /** The first body byte arrived (or the body ended empty): the head a non-stream held goes out now. */
  private bodyStarted(): void {
    this.clearFirstByteTimer();
    const held = this.heldHead;
    if (held !== undefined) {
      this.heldHead = undefined;
      this.writeHead(held.status, held.headers);
    }
    this.phase = 'relaying';
  }

  private writeHead(status: number, headers: OutgoingHttpHeaders): void {
    this.response.writeHead(status, headers);
    this.observation.status = status;
  }

  private clearFirstByteTimer(): void {
    if (this.firstByteTimer === undefined) return;
    clearTimeout(this.firstByteTimer);
    this.firstByteTimer = undefined;
  }

  private readonly onFirstByteTimeout = (): void => {
    this.settings.internalErrors.run(
      'upstream_exchange',
      () => {
        try {
          this.firstByteDeadlinePassed();
        } catch (error) {
          // Whatever was half done, the client must not be left holding an open socket.
          this.response.destroy();
          throw error;
        }
      },
      this.settings.requestId,
    );
  };

  private firstByteDeadlinePassed(): void {
    this.firstByteTimer = undefined;
    if (this.phase === 'done' || this.clientGone) return;
    this.attempt.failed(performance.now());
    this.abandonUpstream('upstream_timeout', this.response.headersSent ? 'The replica did not start the stream in time.' : undefined);
  }

  /** Ends the exchange on the gateway's own decision: stops the upstream request, then answers as `fail` does. */
  private abandonUpstream(code: ErrorCode, message?: string): void {
    // First, so the abort's onResponseError finds the exchange over and neither retries nor answers twice.
    this.phase = 'done';
    this.abortUpstream(new UpstreamAbandonedError(code));
    this.fail(code, message);
  }

  private abortUpstream(reason: Error): void {
    this.abortReason ??= reason;
    this.controller?.abort(reason);
  }

  private responseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
    const headers = rewriteResponseHeaders(upstream, this.settings.requestId);
    if (this.settings.replicaHeader) headers[REPLICA_HEADER] = this.attempt.replica.name;
    const traceResponse = this.observation.trace?.traceResponse;
    if (traceResponse !== undefined) headers[TRACE_RESPONSE_HEADER] = traceResponse;
    return headers;
  }

  /** SSE bodies go through the stream tap; JSON bodies keep their tail, where the usage is. */
  private startObserving(contentType: string | string[] | undefined): void {
    if (this.eventStream) {
      this.tap = new StreamTap({ stripUsageEvent: this.observation.streamUsageRequested });
      this.observation.streamFacts = this.tap.facts;
    } else if (typeof contentType === 'string' && contentType.startsWith('application/json')) {
      this.jsonTail = EMPTY;
    }
  }

  /** Writes relayed bytes to the client; returns false when the client socket is full. */
  private write(bytes: Buffer, arrivedAt: number): boolean {
    const observation = this.observation;
    if (observation.firstByteWrittenAt === undefined) observation.firstByteWrittenAt = arrivedAt;
    observation.responseBytes += bytes.length;
    this.tail = bytes.length >= 2 ? (bytes[bytes.length - 2]! << 8) | bytes[bytes.length - 1]! : ((this.tail << 8) | bytes[0]!) & 0xffff;
    const writable = this.response.write(bytes);
    this.writtenAt = performance.now();
    observation.relayDelayMs += this.writtenAt - arrivedAt;
    return writable;
  }

  /** The bytes written at `writtenAt` completed one or more content-bearing events. */
  private contentWritten(writtenAt: number): void {
    this.observation.firstContentWrittenAt ??= writtenAt;
    this.observation.lastContentWrittenAt = writtenAt;
  }

  /**
   * Answers a failure: a catalogued error while nothing was written (a held non-stream head is
   * dropped), an in-band frame once a stream has started, a closed socket for a plain body cut short.
   */
  private fail(code: ErrorCode, message?: string): void {
    this.phase = 'done';
    this.clearFirstByteTimer();
    this.heldHead = undefined;
    this.observation.errorCode = code;
    if (!this.response.headersSent) {
      const error = new GatewayError(code, message);
      this.observation.responseBytes += writeJson(this.response, error.status, error.toBody(this.observation.traceId), this.responseHeaders({}));
    } else if (this.eventStream) {
      this.endStreamWithError(new GatewayError(code, message ?? (code === 'upstream_timeout' ? 'The replica stopped sending the stream.' : undefined)));
    } else {
      // A plain body cut short cannot carry an error; closing the socket tells the client it is incomplete.
      this.response.destroy();
    }
  }

  /** In-band error, as vLLM sends one: an error frame, then [DONE], then a clean end. */
  private endStreamWithError(error: GatewayError): void {
    const opener = this.tail === LF_LF ? '' : '\n\n';
    const frame = `${opener}data: ${JSON.stringify(error.toBody(this.observation.traceId))}\n\ndata: [DONE]\n\n`;
    this.observation.responseBytes += Buffer.byteLength(frame);
    this.response.end(frame);
  }

  private writeNormalisedError(collected: ErrorBodyCollector): void {
    const headers = this.responseHeaders(collected.headers);
    delete headers['content-encoding'];
    this.observation.status = collected.status;
    this.observation.responseBytes += writeJson(this.response, collected.status, withTraceId(collected.body(), this.observation.traceId), headers);
  }

  private readonly onClientDrain = (): void => {
    this.controller?.resume();
  };

  /** Runs once per exchange, for finished and abandoned responses alike (before telemetry reads the observation). */
  private readonly onClientClose = (): void => {
    const now = performance.now();
    this.clearFirstByteTimer();
    if (!this.response.writableFinished) {
      this.clientGone = true;
      this.attempt.abandoned(now);
      if (this.phase !== 'done') this.abortUpstream(new ClientDisconnectedError());
    }
    this.observation.replicaBusyShareMs += this.attempt.end(now);
    this.openExchanges.delete(this);
  };
}

const EMPTY = Buffer.alloc(0);

/** The last USAGE_TAIL_BYTES of everything seen so far (copies only when a chunk is shorter than that). */
function keepTail(tail: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= USAGE_TAIL_BYTES) return chunk.subarray(chunk.length - USAGE_TAIL_BYTES);
  const keepFromTail = Math.min(tail.length, USAGE_TAIL_BYTES - chunk.length);
  return Buffer.concat([tail.subarray(tail.length - keepFromTail), chunk], keepFromTail + chunk.length);
}
