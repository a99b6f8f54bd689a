import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type HrTime,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { TollboothConfig } from '../../config/schema.js';
import type { UpstreamTarget } from '../../proxy/upstream-exchange.js';
import type { Replica } from '../../routing/replica.js';
import { TOLLBOOTH_VERSION } from '../../version.js';
import type { RequestMeasures } from '../measures.js';
import type { RequestObservation } from '../observation.js';
import type { TracingConfig } from './config.js';
import { ContentCapture } from './content-capture.js';
import * as A from './genai-attributes.js';
import { activeTracerProvider } from './sdk.js';
import {
  attemptSpanName,
  rateLimitAttributes,
  replicaEndpoint,
  requestAttributes,
  responseAttributes,
  serverAttributes,
  serverSpanName,
  transportErrorType,
  type ConversationSources,
} from './span-attributes.js';

/** One upstream try: its CLIENT span is open from dispatch until the try ends. */
interface Attempt {
  readonly span: Span;
  readonly replica: Replica;
  /** Set when the try failed and the request moved to another replica. */
  endedAt: number | undefined;
  errorType: string | undefined;
}

/**
 * The request's tracing handles, kept on the observation: the SERVER span (open from arrival, so
 * its ids exist for the upstream `traceparent`, exemplars, logs and error bodies) and one CLIENT
 * span per upstream attempt. Attributes are written once, when the request is over.
 */
export class RequestTrace {
  readonly attempts: Attempt[] = [];

  constructor(
    private readonly tracer: Tracer,
    private readonly observation: RequestObservation,
    readonly serverSpan: Span,
    /** The SERVER span's context: parent of the attempt spans, and active while the request's hooks run. */
    readonly context: Context,
    readonly headers: IncomingHttpHeaders,
    readonly content: ContentCapture | undefined,
    /**
     * Wall-clock milliseconds minus performance.now(), read once at arrival: every time of the
     * request's spans is converted with this one offset, so children never shift against their
     * parent (the SDK's own conversion re-reads Date.now() per span, up to a millisecond apart)
     * while the trace still lines up with the replica's wall-clock spans.
     */
    private readonly epochOffsetMs: number,
  ) {}

  /**
   * An upstream try is dispatched now: opens its CLIENT span and writes the span's context into
   * the try's request headers (`traceparent`, and `tracestate` when the trace has one), so the
   * replica's own span is the child of this try. Replaces whatever trace headers the client sent.
   */
  attemptStarted(target: UpstreamTarget, now: number): void {
    const observation = this.observation;
    const span = this.tracer.startSpan(
      attemptSpanName(observation.method, observation.route, observation.requestedModel),
      { kind: SpanKind.CLIENT, startTime: this.time(now) },
      this.context,
    );
    this.attempts.push({ span, replica: target.replica, endedAt: undefined, errorType: undefined });
    const headers = target.options.headers;
    if (isHeaderRecord(headers)) {
      if (headers.tracestate !== undefined) delete headers.tracestate;
      propagation.inject(trace.setSpan(this.context, span), headers);
    }
  }

  /** A performance.now() reading as the span time it stands for. */
  time(performanceMs: number): HrTime {
    return spanTime(performanceMs, this.epochOffsetMs);
  }

  /** The current try failed before an answer and the request moves on to another replica. */
  attemptFailed(error: unknown, now: number): void {
    const attempt = this.attempts.at(-1);
    if (attempt === undefined || attempt.endedAt !== undefined) return;
    attempt.endedAt = now;
    attempt.errorType = transportErrorType(error);
  }
}

/**
 * Makes the spans of every request from its observation: starts the SERVER span on arrival
 * (continuing the client's `traceparent`), and at the end builds all attributes, the rate-limit
 * child span and the first-token event in one pass over the finished facts. Nothing runs per
 * chunk: the stream is already timed by the tap.
 */
export class RequestTracer {
  private readonly tracer: Tracer;
  private readonly conversation: ConversationSources;

  constructor(
    provider: TracerProvider,
    private readonly settings: TracingConfig,
    routing: Pick<TollboothConfig['routing'], 'sessionKey'>,
  ) {
    this.tracer = provider.getTracer('tollbooth', TOLLBOOTH_VERSION);
    this.conversation = { header: routing.sessionKey.header, bodyFields: routing.sessionKey.bodyFields };
  }

  /** Opens the SERVER span of a request that just arrived, and names its ids on the observation when it is sampled. */
  requestStarted(observation: RequestObservation, headers: IncomingHttpHeaders, response: ServerResponse): void {
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    const epochOffsetMs = Date.now() - performance.now();
    const span = this.tracer.startSpan(
      serverSpanName(observation.method, observation.route),
      { kind: SpanKind.SERVER, startTime: spanTime(observation.receivedAt, epochOffsetMs) },
      parent,
    );
    const recording = span.isRecording();
    const content = recording && this.settings.captureContent ? new ContentCapture(response, this.settings.contentLimitChars) : undefined;
    observation.trace = new RequestTrace(this.tracer, observation, span, trace.setSpan(parent, span), headers, content, epochOffsetMs);
    if (recording) {
      const ids = span.spanContext();
      observation.traceId = ids.traceId;
      observation.spanId = ids.spanId;
    }
  }

  /**
   * Runs `next` (the rest of the request's hooks) with the SERVER span active: a library call made
   * synchronously from those hooks (a Redis command) becomes its child. The context manager is
   * synchronous (synchronous-context.ts), so nothing follows an asynchronous hop.
   */
  continueInTrace(observation: RequestObservation, next: () => void): void {
    inRequestTrace(observation, next);
  }

  /** The request is over: every span gets its attributes and ends at the time the facts say. */
  finish(observation: RequestObservation, measures: RequestMeasures): void {
    const handle = observation.trace;
    if (handle === undefined) return;
    const endedAt = observation.completedAt ?? performance.now();
    const server = handle.serverSpan;
    if (!server.isRecording()) {
      for (const attempt of handle.attempts) attempt.span.end();
      server.end();
      return;
    }

    const rateLimit = observation.rateLimit;
    if (rateLimit !== undefined) {
      this.tracer
        .startSpan(
          A.RATE_LIMIT_SPAN,
          { kind: SpanKind.INTERNAL, startTime: handle.time(rateLimit.startedAt), attributes: rateLimitAttributes(rateLimit) },
          handle.context,
        )
        .end(handle.time(rateLimit.endedAt));
    }

    if (handle.attempts.length > 0) this.endAttempts(handle, observation, measures, endedAt);

    server.setAttributes(serverAttributes(observation, measures));
    if ((observation.status ?? 0) >= 500 || measures.outcome === 'upstream_failure') {
      server.setStatus({ code: SpanStatusCode.ERROR, message: measures.errorType ?? undefined });
    }
    server.end(handle.time(endedAt));
  }

  private endAttempts(handle: RequestTrace, observation: RequestObservation, measures: RequestMeasures, endedAt: number): void {
    const shared = requestAttributes(observation, handle.headers, this.conversation);
    if (handle.content !== undefined) {
      shared[A.GEN_AI_INPUT_MESSAGES] = handle.content.input(observation);
    }
    const last = handle.attempts.length - 1;
    handle.attempts.forEach((attempt, index) => {
      const { span, replica } = attempt;
      const { address, port } = replicaEndpoint(replica);
      span.setAttributes(shared);
      span.setAttributes({ [A.SERVER_ADDRESS]: address, [A.SERVER_PORT]: port, [A.ROUTING_REPLICA]: replica.name, [A.ROUTING_ATTEMPT]: index + 1 });
      if (index < last || attempt.endedAt !== undefined) {
        span.setAttribute(A.ERROR_TYPE, attempt.errorType ?? 'unknown');
        span.setStatus({ code: SpanStatusCode.ERROR, message: attempt.errorType });
        span.end(handle.time(attempt.endedAt ?? endedAt));
        return;
      }
      span.setAttributes(responseAttributes(observation, measures));
      if (handle.content !== undefined) span.setAttributes({ [A.GEN_AI_OUTPUT_MESSAGES]: handle.content.output(observation) });
      if (measures.errorType !== null) {
        span.setAttribute(A.ERROR_TYPE, measures.errorType);
        if (measures.outcome === 'upstream_error' || measures.outcome === 'upstream_failure') {
          span.setStatus({ code: SpanStatusCode.ERROR, message: measures.errorType });
        }
      }
      const firstContentAt = observation.firstContentWrittenAt;
      if (measures.ttftMs !== undefined && firstContentAt !== undefined) {
        span.addEvent(A.FIRST_TOKEN_EVENT, { [A.TTFT_MS]: measures.ttftMs, [A.UPSTREAM_TTFT_MS]: measures.upstreamTtftMs }, handle.time(firstContentAt));
      }
      span.end(handle.time(endedAt));
    });
  }
}

/** The request tracer when tracing is on (an SDK or an embedder's provider is active), else undefined: nothing is allocated per request. */
export function createRequestTracer(
  config: Pick<TollboothConfig, 'tracing' | 'routing'>,
  provider: TracerProvider | undefined = activeTracerProvider(),
): RequestTracer | undefined {
  if (!config.tracing.enabled || provider === undefined) return undefined;
  return new RequestTracer(provider, config.tracing, config.routing);
}

function spanTime(performanceMs: number, epochOffsetMs: number): HrTime {
  const epochMs = performanceMs + epochOffsetMs;
  let seconds = Math.floor(epochMs / 1000);
  let nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}

function isHeaderRecord(headers: unknown): headers is Record<string, string | string[] | undefined> {
  return typeof headers === 'object' && headers !== null && !Array.isArray(headers) && !(Symbol.iterator in headers);
}

/**
 * Runs `work` with the request's SERVER span active for its synchronous extent (the context
 * manager follows nothing further, see synchronous-context.ts): a library call it starts
 * synchronously, such as the rate limiter's Redis script, becomes the span's child. Without
 * tracing it is a plain call.
 */
export function inRequestTrace<T>(observation: RequestObservation, work: () => T): T {
  const handle = observation.trace;
  return handle === undefined ? work() : context.with(handle.context, work);
}
