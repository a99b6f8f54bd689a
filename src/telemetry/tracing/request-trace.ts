import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type HrTime,
  type SpanContext,
  type SpanStatus,
  type TraceState,
} from '@opentelemetry/api';
import type { TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { TollboothConfig } from '../../config/schema.js';
import type { UpstreamTarget } from '../../proxy/upstream-exchange.js';
import type { Replica } from '../../routing/replica.js';
import type { RequestMeasures } from '../measures.js';
import type { RequestObservation } from '../observation.js';
import type { TracingConfig } from './config.js';
import { ContentCapture } from './content-capture.js';
import * as A from './genai-attributes.js';
import {
  addResponseAttributes,
  attemptSpanName,
  rateLimitAttributes,
  replicaEndpoint,
  requestAttributes,
  serverAttributes,
  serverSpanName,
  transportErrorType,
  type ConversationSources,
} from './span-attributes.js';
import { activeSpanPipeline, type SpanPipeline } from './span-pipeline.js';
import { limitedAttributes, NO_EVENTS, SpanRecord, spanTime, UNSET_STATUS } from './span-records.js';
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
 * the spans are built, finished, when the request is over (`RequestTracer.finish`).
 */
export class RequestTrace {
  readonly attempts: Attempt[] = [];
  /** The SERVER span's context: parent of the other spans. */
  readonly spanContext: SpanContext;
  /** The SERVER span as the active context (for library spans: ioredis); only for a recorded request. */
  readonly context: Context | undefined;
  private readonly traceParentFlags: boolean;
  private readonly traceStateHeader: string | undefined;

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
    private readonly epochOffsetMs: number,
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

  /** A context for a child span of the SERVER span (same trace, flags and trace state). */
  childContext(spanId: string): SpanContext {
    const server = this.spanContext;
    return { traceId: server.traceId, spanId, traceFlags: server.traceFlags, traceState: server.traceState };
  }
}

/**
 * Makes the spans of every request from its observation: on arrival it continues the client's
 * `traceparent` and takes the sampling decision (the configured sampler, once per request); at
 * the end it builds every span as a finished record (span-records.ts) with all its attributes,
 * the rate-limit child and the first-token event, in one pass over the finished facts, and hands
 * them to the span processor (the SDK's batch processor and exporter). Nothing runs per chunk:
 * the stream is already timed by the tap. An unsampled request costs an id and a header.
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

  /** The request is over: every span is built with its attributes and the times the facts say, and handed to the processor. */
  finish(observation: RequestObservation, measures: RequestMeasures): void {
    const handle = observation.trace;
    if (handle === undefined || !handle.recording) return;
    const { processor, resource, scope, limits } = this.pipeline;
    const endedAt = observation.completedAt ?? performance.now();
    const serverContext = handle.spanContext;

    const rateLimit = observation.rateLimit;
    if (rateLimit !== undefined) {
      const attributes = limitedAttributes(rateLimitAttributes(rateLimit), limits);
      processor.onEnd(
        new SpanRecord(
          A.RATE_LIMIT_SPAN,
          SpanKind.INTERNAL,
          handle.childContext(this.ids.spanId()),
          serverContext,
          handle.time(rateLimit.startedAt),
          handle.time(rateLimit.endedAt),
          UNSET_STATUS,
          attributes.values,
          attributes.dropped,
          NO_EVENTS,
          resource,
          scope,
        ),
      );
    }

    if (handle.attempts.length > 0) this.finishAttempts(handle, observation, measures, endedAt);

    const own = serverAttributes(observation, measures);
    const attributes = limitedAttributes(handle.samplerAttributes === undefined ? own : { ...handle.samplerAttributes, ...own }, limits);
    const status = (observation.status ?? 0) >= 500 || measures.outcome === 'upstream_failure' ? errorStatus(measures.errorType ?? undefined) : UNSET_STATUS;
    processor.onEnd(
      new SpanRecord(
        serverSpanName(observation.method, observation.route),
        SpanKind.SERVER,
        serverContext,
        handle.parent,
        handle.time(observation.receivedAt),
        handle.time(endedAt),
        status,
        attributes.values,
        attributes.dropped,
        NO_EVENTS,
        resource,
        scope,
      ),
    );
  }

  private finishAttempts(handle: RequestTrace, observation: RequestObservation, measures: RequestMeasures, endedAt: number): void {
    const { processor, resource, scope, limits } = this.pipeline;
    const shared = requestAttributes(observation, handle.headers, this.conversation);
    if (handle.content !== undefined) {
      const input = handle.content.input(observation);
      if (input !== undefined) shared[A.GEN_AI_INPUT_MESSAGES] = input;
    }
    const name = attemptSpanName(observation.method, observation.route, observation.requestedModel);
    const last = handle.attempts.length - 1;
    handle.attempts.forEach((attempt, index) => {
      const { replica } = attempt;
      const { address, port } = replicaEndpoint(replica);
      const own = handle.attempts.length === 1 ? shared : { ...shared };
      own[A.SERVER_ADDRESS] = address;
      own[A.SERVER_PORT] = port;
      own[A.ROUTING_REPLICA] = replica.name;
      own[A.ROUTING_ATTEMPT] = index + 1;
      let status = UNSET_STATUS;
      let events = NO_EVENTS;
      let end = endedAt;
      if (index < last || attempt.endedAt !== undefined) {
        own[A.ERROR_TYPE] = attempt.errorType ?? 'unknown';
        status = errorStatus(attempt.errorType);
        end = attempt.endedAt ?? endedAt;
      } else {
        addResponseAttributes(own, observation, measures);
        if (handle.content !== undefined) {
          const output = handle.content.output(observation);
          if (output !== undefined) own[A.GEN_AI_OUTPUT_MESSAGES] = output;
        }
        if (measures.errorType !== null) {
          own[A.ERROR_TYPE] = measures.errorType;
          if (measures.outcome === 'upstream_error' || measures.outcome === 'upstream_failure') status = errorStatus(measures.errorType);
        }
        const firstContentAt = observation.firstContentWrittenAt;
        if (measures.ttftMs !== undefined && firstContentAt !== undefined) {
          events = [firstTokenEvent(handle.time(firstContentAt), measures)];
        }
      }
      const attributes = limitedAttributes(own, limits);
      processor.onEnd(
        new SpanRecord(
          name,
          SpanKind.CLIENT,
          handle.childContext(attempt.spanId),
          handle.spanContext,
          handle.time(attempt.startedAt),
          handle.time(end),
          status,
          attributes.values,
          attributes.dropped,
          events,
          resource,
          scope,
        ),
      );
    });
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

/** `gen_ai.first_token`: when the first content reached the client, with the TTFT from arrival and from dispatch. */
function firstTokenEvent(time: HrTime, measures: RequestMeasures): TimedEvent {
  const attributes: Attributes = {};
  if (measures.ttftMs !== undefined) attributes[A.TTFT_MS] = measures.ttftMs;
  if (measures.upstreamTtftMs !== undefined) attributes[A.UPSTREAM_TTFT_MS] = measures.upstreamTtftMs;
  return { name: A.FIRST_TOKEN_EVENT, time, attributes, droppedAttributesCount: 0 };
}

function errorStatus(message: string | undefined): SpanStatus {
  return message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message };
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
