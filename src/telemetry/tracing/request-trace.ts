import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  SamplingDecision,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type SpanContext,
  type TraceState,
} from '@opentelemetry/api';
import type { TollboothConfig } from '../../config/schema.js';
import type { UpstreamTarget } from '../../proxy/upstream-exchange.js';
import type { Replica } from '../../routing/replica.js';
import type { RequestMeasures } from '../measures.js';
import type { RequestObservation } from '../observation.js';
import type { TracingConfig } from './config.js';
import { ContentCapture } from './content-capture.js';
import { requestSpanFacts } from './request-span-facts.js';
import { serverSpanName, transportErrorType, type ConversationSources } from './span-attributes.js';
import { activeSpanPipeline, type SpanPipeline } from './span-pipeline.js';
import { formatTraceParent, parseTraceParent, RandomIds } from './trace-context.js';

/** One upstream try: its CLIENT span runs from dispatch until the try ends; its id is in the try's traceparent. */
interface Attempt {
  readonly spanId: string;
  readonly replica: Replica;
  readonly startedAt: number;
  /** Set when the try failed and the request moved to another replica. */
  endedAt: number | undefined;
  errorType: string | undefined;
}

/**
 * The request's trace, kept on the observation: the ids of its SERVER span (chosen on arrival, so
 * they exist for the upstream `traceparent`, exemplars, logs and error bodies) and of each
 * upstream attempt, with the times they started. No span object exists while the request runs:
 * the spans are built from the facts of the finished request (`RequestTracer.finish`).
 */
export class RequestTrace {
  readonly attempts: Attempt[] = [];
  /** The SERVER span's context: parent of the other spans. */
  readonly spanContext: SpanContext;
  /** The SERVER span as the active context (for library spans: ioredis); only for a recorded request. */
  readonly context: Context | undefined;
  private readonly traceParentFlags: boolean;
  /** The trace's `tracestate` as a header value, when it has one. */
  readonly traceStateHeader: string | undefined;

  constructor(
    private readonly ids: RandomIds,
    private readonly propagator: SpanPipeline['propagator'],
    /** Sampled and recorded: its spans are built at the end. False: only its context travels upstream. */
    readonly recording: boolean,
    sampled: boolean,
    traceId: string,
    spanId: string,
    traceState: TraceState | undefined,
    /** The client's span, when its traceparent was valid. */
    readonly parent: SpanContext | undefined,
    /** Attributes the sampler asked for. */
    readonly samplerAttributes: Attributes | undefined,
    readonly headers: IncomingHttpHeaders,
    readonly content: ContentCapture | undefined,
    /**
     * Wall-clock milliseconds minus performance.now(), read once at arrival: every time of the
     * request's spans is converted with this one offset, so children never shift against their
     * parent while the trace still lines up with the replica's wall-clock spans.
     */
    readonly epochOffsetMs: number,
  ) {
    this.spanContext = { traceId, spanId, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, traceState };
    this.context = recording ? trace.setSpanContext(ROOT_CONTEXT, this.spanContext) : undefined;
    this.traceParentFlags = sampled;
    this.traceStateHeader = traceState?.serialize() || undefined;
  }

  /**
   * An upstream try is dispatched now: gives it a span id and writes it into the try's request
   * headers (`traceparent`, and `tracestate` when the trace has one), so the replica's own span
   * is the child of this try. Replaces whatever trace headers the client sent.
   */
  attemptStarted(target: UpstreamTarget, now: number): void {
    const spanId = this.ids.spanId();
    if (this.recording) this.attempts.push({ spanId, replica: target.replica, startedAt: now, endedAt: undefined, errorType: undefined });
    const headers = target.options.headers;
    if (!isHeaderRecord(headers)) return;
    if (this.propagator !== undefined) {
      if (headers.tracestate !== undefined) delete headers.tracestate;
      this.propagator.inject(trace.setSpanContext(ROOT_CONTEXT, this.childContext(spanId)), headers, defaultTextMapSetter);
      return;
    }
    headers.traceparent = formatTraceParent(this.spanContext.traceId, spanId, this.traceParentFlags);
    if (this.traceStateHeader !== undefined) headers.tracestate = this.traceStateHeader;
    else if (headers.tracestate !== undefined) delete headers.tracestate;
  }

  /** The current try failed before an answer and the request moves on to another replica. */
  attemptFailed(error: unknown, now: number): void {
    const attempt = this.attempts.at(-1);
    if (attempt === undefined || attempt.endedAt !== undefined) return;
    attempt.endedAt = now;
    attempt.errorType = transportErrorType(error);
  }

  /** A context for a child span of the SERVER span (same trace, flags and trace state). */
  private childContext(spanId: string): SpanContext {
    const server = this.spanContext;
    return { traceId: server.traceId, spanId, traceFlags: server.traceFlags, traceState: server.traceState };
  }
}

/**
 * Traces every request from its observation: on arrival it continues the client's `traceparent`
 * and takes the sampling decision (the configured sampler, once per request); at the end it
 * gathers the request's span facts (request-span-facts.ts) in one read of the finished
 * observation and hands them to the pipeline's sink, which builds the spans (request-spans.ts)
 * where they are exported. Nothing runs per chunk: the stream is already timed by the tap. An
 * unsampled request costs an id and a header.
 */
export class RequestTracer {
  private readonly conversation: ConversationSources;
  private readonly ids = new RandomIds();

  constructor(
    private readonly pipeline: SpanPipeline,
    private readonly settings: TracingConfig,
    routing: Pick<TollboothConfig['routing'], 'sessionKey'>,
  ) {
    this.conversation = { header: routing.sessionKey.header, bodyFields: routing.sessionKey.bodyFields };
  }

  /** Chooses the ids and sampling of a request that just arrived, and names them on the observation when it is sampled. */
  requestStarted(observation: RequestObservation, headers: IncomingHttpHeaders, response: ServerResponse): void {
    const parent = this.remoteParent(headers);
    const traceId = parent?.traceId ?? this.ids.traceId();
    const spanId = this.ids.spanId();
    const sampling = this.pipeline.sampler.shouldSample(
      parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent),
      traceId,
      serverSpanName(observation.method, observation.route),
      SpanKind.SERVER,
      {},
      [],
    );
    const recording = sampling.decision !== SamplingDecision.NOT_RECORD;
    const content = recording && this.settings.captureContent ? new ContentCapture(response, this.settings.contentLimitChars) : undefined;
    observation.trace = new RequestTrace(
      this.ids,
      this.pipeline.propagator,
      recording,
      sampling.decision === SamplingDecision.RECORD_AND_SAMPLED,
      traceId,
      spanId,
      sampling.traceState ?? parent?.traceState,
      parent,
      sampling.attributes,
      headers,
      content,
      recording ? Date.now() - performance.now() : 0,
    );
    if (recording) {
      observation.traceId = traceId;
      observation.spanId = spanId;
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

  /**
   * The request is over: its span facts are gathered once and handed to the pipeline's sink,
   * which builds the spans (in the gateway, on the export thread: the event loop only gathers).
   */
  finish(observation: RequestObservation, measures: RequestMeasures): void {
    const handle = observation.trace;
    if (handle === undefined || !handle.recording) return;
    this.pipeline.requestSpans.add(requestSpanFacts(handle, observation, measures, this.conversation));
  }

  /** The client's span from a valid `traceparent` (and its `tracestate`), else undefined: the request starts a trace. */
  private remoteParent(headers: IncomingHttpHeaders): SpanContext | undefined {
    const propagator = this.pipeline.propagator;
    if (propagator !== undefined) {
      const extracted = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
      return extracted !== undefined && isSpanContextValid(extracted) ? extracted : undefined;
    }
    const parsed = parseTraceParent(headers.traceparent);
    if (parsed === undefined) return undefined;
    const stateHeader = headers.tracestate;
    const state = Array.isArray(stateHeader) ? stateHeader.join(',') : stateHeader;
    return {
      traceId: parsed.traceId,
      spanId: parsed.spanId,
      traceFlags: parsed.traceFlags,
      isRemote: true,
      ...(state ? { traceState: this.pipeline.parseTraceState(state) } : {}),
    };
  }
}

/** The request tracer when tracing is on (the SDK or a test made a span pipeline active), else undefined: nothing is allocated per request. */
export function createRequestTracer(
  config: Pick<TollboothConfig, 'tracing' | 'routing'>,
  pipeline: SpanPipeline | undefined = activeSpanPipeline(),
): RequestTracer | undefined {
  if (!config.tracing.enabled || pipeline === undefined) return undefined;
  return new RequestTracer(pipeline, config.tracing, config.routing);
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
  const active = observation.trace?.context;
  return active === undefined ? work() : context.with(active, work);
}
