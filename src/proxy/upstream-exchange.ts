import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ErrorCode } from '../errors/catalogue.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Replica } from '../routing/replica.js';
import { StreamTap } from '../streaming/stream-tap.js';
import type { RequestObservation } from '../telemetry/observation.js';
import { USAGE_TAIL_BYTES, usageFromJsonTail } from './body-usage.js';
import { rewriteResponseHeaders } from './headers.js';
import { classifyTransportError } from './transport-errors.js';
import { normaliseUpstreamError } from './upstream-error-body.js';
import { writeGatewayError, writeJson } from './write-response.js';

/** Why the gateway aborted an upstream request: its client left. */
export class ClientDisconnectedError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientDisconnectedError';
  }
}

export interface ExchangeSettings {
  readonly requestId: string;
  readonly errorBodyLimitBytes: number;
  /** Tap SSE bodies and read the usage of JSON bodies (off: bytes are only relayed). */
  readonly observeResponses: boolean;
}

type Phase = 'awaiting-headers' | 'relaying' | 'collecting-error' | 'done';

const LF_LF = 0x0a0a;

/**
 * One request to one replica, relayed to one client, as an undici dispatch handler: upstream
 * bytes go straight to the client socket as they arrive, with no stream objects in between.
 *
 * - Backpressure: when the client socket buffer is full the upstream read is paused until it
 *   drains, so a slow reader costs one socket buffer, never an unbounded queue.
 * - Client gone: the upstream request is aborted at once (queued, waiting for headers, or
 *   streaming), which closes that upstream connection so vLLM frees the sequence.
 * - Replica errors (status >= 400) are collected (bounded) and normalised to the OpenAI envelope.
 * - Transport failures become catalogued errors before the first byte, or an in-band SSE error
 *   frame after it, because a status can no longer be sent once a stream has started.
 * - Observation: an SSE body goes through the stream tap (first content, gaps, usage, errors);
 *   a JSON body's last few KiB are kept to read its usage. The replica counts the request as in
 *   flight from dispatch until the client response closes.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private phase: Phase = 'awaiting-headers';
  private clientGone = false;
  private eventStream = false;
  /** The last two bytes written to the client, to tell whether an SSE frame is still open. */
  private tail = LF_LF;
  private upstreamStatus = 0;
  private upstreamHeaders: IncomingHttpHeaders = {};
  private errorChunks: Buffer[] = [];
  private errorBytes = 0;
  private errorTruncated = false;
  private tap: StreamTap | undefined;
  /** The end of a 2xx JSON body, where its usage is. */
  private jsonTail: Buffer | undefined;
  private loadStart = 0;
  /** This exchange is counted in its replica's awaitingHeaders. */
  private countedAwaitingHeaders = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly observation: RequestObservation,
    private readonly replica: Replica,
    private readonly settings: ExchangeSettings,
  ) {
    response.once('close', this.onClientClose);
  }

  /** Hands the request to the replica's pool; every outcome is then handled by this object. */
  dispatch(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): void {
    const now = performance.now();
    this.observation.dispatchedAt = now;
    this.loadStart = this.replica.load.begin(now);
    this.replica.awaitingHeaders += 1;
    this.countedAwaitingHeaders = true;
    try {
      dispatcher.dispatch(options, this);
    } catch (error) {
      this.fail(classifyTransportError(error));
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The client may have left while the request waited for a free upstream connection.
    if (this.clientGone) controller.abort(new ClientDisconnectedError());
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.observation.upstreamHeadersAt = performance.now();
    this.headersSettled();
    if (this.clientGone) return;
    this.upstreamStatus = statusCode;
    this.upstreamHeaders = headers;
    if (statusCode >= 400) {
      this.phase = 'collecting-error';
      return;
    }
    const contentType = headers['content-type'];
    this.eventStream = typeof contentType === 'string' && contentType.startsWith('text/event-stream');
    if (this.settings.observeResponses) this.startObserving(contentType);
    this.response.writeHead(statusCode, rewriteResponseHeaders(headers, this.settings.requestId));
    this.observation.status = statusCode;
    // A stream's client should see it open now, not when the first token arrives.
    if (this.eventStream) this.response.flushHeaders();
    this.phase = 'relaying';
  }

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
      if (tap !== undefined && tap.facts.contentEvents > contentBefore) this.contentWritten();
    } else if (this.phase === 'collecting-error') {
      this.collectErrorChunk(chunk);
    }
  }

  onResponseEnd(): void {
    if (this.phase === 'relaying') {
      this.phase = 'done';
      const held = this.tap?.finish();
      if (held !== undefined && held.length > 0) this.write(held, performance.now());
      if (this.jsonTail !== undefined) this.observation.bodyUsage = usageFromJsonTail(this.jsonTail);
      this.response.end();
    } else if (this.phase === 'collecting-error') {
      this.phase = 'done';
      this.writeNormalisedError();
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.headersSettled();
    // Our own abort after the client left: there is nobody to tell.
    if (this.clientGone || this.phase === 'done') return;
    this.fail(classifyTransportError(error));
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
    observation.relayDelayMs += performance.now() - arrivedAt;
    return writable;
  }

  /** The bytes just written completed one or more content-bearing events. */
  private contentWritten(): void {
    const now = performance.now();
    this.observation.firstContentWrittenAt ??= now;
    this.observation.lastContentWrittenAt = now;
  }

  private headersSettled(): void {
    if (!this.countedAwaitingHeaders) return;
    this.countedAwaitingHeaders = false;
    this.replica.awaitingHeaders -= 1;
  }

  private fail(code: ErrorCode): void {
    const previous = this.phase;
    this.phase = 'done';
    this.observation.errorCode = code;
    if (previous === 'awaiting-headers' || previous === 'collecting-error') {
      this.observation.responseBytes += writeGatewayError(this.response, new GatewayError(code), this.settings.requestId);
    } else if (this.eventStream) {
      this.endStreamWithError(new GatewayError(code, code === 'upstream_timeout' ? 'The replica stopped sending the stream.' : undefined));
    } else {
      // A plain body cut short cannot carry an error; closing the socket tells the client it is incomplete.
      this.response.destroy();
    }
  }

  /** In-band error, as vLLM sends one: an error frame, then [DONE], then a clean end. */
  private endStreamWithError(error: GatewayError): void {
    const opener = this.tail === LF_LF ? '' : '\n\n';
    const frame = `${opener}data: ${JSON.stringify(error.toBody())}\n\ndata: [DONE]\n\n`;
    this.observation.responseBytes += Buffer.byteLength(frame);
    this.response.end(frame);
  }

  private collectErrorChunk(chunk: Buffer): void {
    const room = this.settings.errorBodyLimitBytes - this.errorBytes;
    if (room <= 0) {
      this.errorTruncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept !== chunk) this.errorTruncated = true;
    this.errorChunks.push(kept);
    this.errorBytes += kept.length;
  }

  private writeNormalisedError(): void {
    const body = normaliseUpstreamError(this.upstreamStatus, Buffer.concat(this.errorChunks, this.errorBytes), this.errorTruncated);
    this.errorChunks = [];
    const headers = rewriteResponseHeaders(this.upstreamHeaders, this.settings.requestId);
    delete headers['content-encoding'];
    this.observation.status = this.upstreamStatus;
    this.observation.responseBytes += writeJson(this.response, this.upstreamStatus, body, headers);
  }

  private readonly onClientDrain = (): void => {
    this.controller?.resume();
  };

  /** Runs once per exchange, for finished and abandoned responses alike (before telemetry reads the observation). */
  private readonly onClientClose = (): void => {
    this.headersSettled();
    this.observation.replicaBusyShareMs = this.replica.load.end(performance.now(), this.loadStart);
    if (this.response.writableFinished) return;
    this.clientGone = true;
    if (this.phase !== 'done') this.controller?.abort(new ClientDisconnectedError());
  };
}

const EMPTY = Buffer.alloc(0);

/** The last USAGE_TAIL_BYTES of everything seen so far (copies only when a chunk is shorter than that). */
function keepTail(tail: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= USAGE_TAIL_BYTES) return chunk.subarray(chunk.length - USAGE_TAIL_BYTES);
  const keepFromTail = Math.min(tail.length, USAGE_TAIL_BYTES - chunk.length);
  return Buffer.concat([tail.subarray(tail.length - keepFromTail), chunk], keepFromTail + chunk.length);
}
