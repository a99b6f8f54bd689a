import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { createPiiMasker } from '../../guardrails/pii.js';
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
import type { GuardrailsConfig } from '../../guardrails/config.js';
import type { RoutingConfig } from '../../routing/config.js';
import type { RequestObservation } from '../../lifecycle/observation.js';
import type { RequestListener, UpstreamAttemptTarget } from '../../lifecycle/request-listener.js';
import type { RequestMeasures } from '../measures.js';
import type { TracingConfig } from './config.js';
import { ContentCapture } from './content-capture.js';
import { requestSpans } from './request-spans.js';
import { serverSpanName, transportErrorType, type ConversationSources } from './span-attributes.js';
import { activeSpanPipeline, type SpanPipeline } from './span-pipeline.js';
import { traceResponseValue } from './trace-response.js';

/** One upstream try: its CLIENT span runs from dispatch until the try ends; its id is in the try's traceparent. */
interface Attempt {
  readonly spanId: string;
  readonly replica: UpstreamAttemptTarget['replica'];
  readonly startedAt: number;
  /** Set when the try failed and the request moved to another replica. */
  endedAt: number | undefined;
  errorType: string | undefined;
}

/**
 * The request's trace, the observation's listener (`observation.trace`): the ids of its SERVER
 * span (chosen on arrival, so they exist for the upstream `traceparent`, exemplars, logs and error
 * bodies) and of each upstream attempt, with the times they started. No span object exists while
 * the request runs: the spans are built from the facts of the finished request (`RequestTracer.finish`).
 */
export class RequestTrace implements RequestListener {
  readonly attempts: Attempt[] = [];
  /** The SERVER span's context: parent of the other spans. */
  readonly spanContext: SpanContext;
  /** The SERVER span as the active context (for library spans: ioredis); only for a recorded request. */
  readonly context: Context | undefined;
  /** A recorded request's responses name its trace; unsampled ones name none (no link to a missing trace). */
  readonly traceResponse: string | undefined;

  constructor(
    private readonly pipeline: SpanPipeline,
    /** Sampled and recorded: its spans are built at the end. False: only its context travels upstream. */
    readonly recording: boolean,
    sampled: boolean,
    traceId: string,
    spanId: string,
    traceState: TraceState | undefined,
    /** The client's span, when its trace context was valid. */
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
    this.spanContext = { traceId, spanId, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, ...(traceState === undefined ? {} : { traceState }) };
    this.context = recording ? trace.setSpanContext(ROOT_CONTEXT, this.spanContext) : undefined;
    this.traceResponse = recording ? traceResponseValue(traceId, spanId) : undefined;
  }

  /**
   * Runs `work` with the SERVER span active for its synchronous extent (the context manager
   * follows nothing further, see synchronous-context.ts): a library call it starts synchronously,
   * such as the rate limiter's Redis script, becomes the span's child. Unrecorded: a plain call.
   */
  within<T>(work: () => T): T {
    const active = this.context;
    return active === undefined ? work() : context.with(active, work);
  }

  /**
   * An upstream try is dispatched now: gives it a span id and writes its trace context into the
   * try's request headers through the propagator (`traceparent`, and `tracestate` when the trace
   * has one), so the replica's own span is the child of this try. Replaces the client's.
   */
  attemptStarted(target: UpstreamAttemptTarget, now: number): void {
    const spanId = this.pipeline.idGenerator.generateSpanId();
    if (this.recording) this.attempts.push({ spanId, replica: target.replica, startedAt: now, endedAt: undefined, errorType: undefined });
    const headers = target.options.headers;
    if (!isHeaderRecord(headers)) return;
    if (headers.tracestate !== undefined) delete headers.tracestate;
    this.pipeline.propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { ...this.spanContext, spanId }), headers, defaultTextMapSetter);
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
 * Traces every request from its observation: on arrival it continues the client's trace context
 * (the propagator's) and takes the sampling decision (the SDK's sampler, once per request); at
 * the end it builds the request's span records (request-spans.ts) from the finished observation
 * and hands them to the SDK's span processor. Nothing runs per chunk: the stream is already timed
 * by the tap. An unsampled request costs two ids and a header.
 */
export class RequestTracer {
  private readonly conversation: ConversationSources;
  /** guardrails.pii applies to captured content whether or not the forwarded request is masked too. */
  private readonly maskContent: ((text: string) => string) | undefined;

  constructor(
    private readonly pipeline: SpanPipeline,
    private readonly settings: TracingConfig,
    routing: Pick<RoutingConfig, 'sessionKey'>,
    pii: GuardrailsConfig['pii'],
  ) {
    this.conversation = { header: routing.sessionKey.header, bodyFields: routing.sessionKey.bodyFields };
    const masker = pii.kinds.length === 0 ? undefined : createPiiMasker(pii.kinds, pii.nationalIdPatterns);
    this.maskContent = masker === undefined ? undefined : (text) => masker.mask(text).text;
  }

  /** Chooses the ids and sampling of a request that just arrived, and names them on the observation when it is sampled. */
  requestStarted(observation: RequestObservation, headers: IncomingHttpHeaders, response: ServerResponse): void {
    const parent = this.remoteParent(headers);
    const traceId = parent?.traceId ?? this.pipeline.idGenerator.generateTraceId();
    const spanId = this.pipeline.idGenerator.generateSpanId();
    const sampling = this.pipeline.sampler.shouldSample(
      parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent),
      traceId,
      serverSpanName(observation.method, observation.route),
      SpanKind.SERVER,
      {},
      [],
    );
    const recording = sampling.decision !== SamplingDecision.NOT_RECORD;
    const content = recording && this.settings.captureContent ? new ContentCapture(response, this.settings.contentLimitChars, this.maskContent) : undefined;
    observation.trace = new RequestTrace(
      this.pipeline,
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

  /** The request is over: its spans are built once and handed to the span processor (which batches and exports them). */
  finish(observation: RequestObservation, measures: RequestMeasures): void {
    const handle = observation.trace;
    if (!(handle instanceof RequestTrace) || !handle.recording) return;
    const { processor, origin, idGenerator } = this.pipeline;
    for (const span of requestSpans(handle, observation, measures, this.conversation, origin, () => idGenerator.generateSpanId())) processor.onEnd(span);
  }

  /** The client's span from a valid trace context (`traceparent` and `tracestate` by default), else undefined: the request starts a trace. */
  private remoteParent(headers: IncomingHttpHeaders): SpanContext | undefined {
    const extracted = trace.getSpanContext(this.pipeline.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
    return extracted !== undefined && isSpanContextValid(extracted) ? extracted : undefined;
  }
}

/** The request tracer when tracing is on (the SDK or a test made a span pipeline active), else undefined: nothing is allocated per request. */
export function createRequestTracer(
  config: { readonly tracing: TracingConfig; readonly routing: Pick<RoutingConfig, 'sessionKey'>; readonly guardrails: Pick<GuardrailsConfig, 'pii'> },
  pipeline: SpanPipeline | undefined = activeSpanPipeline(),
): RequestTracer | undefined {
  if (!config.tracing.enabled || pipeline === undefined) return undefined;
  return new RequestTracer(pipeline, config.tracing, config.routing, config.guardrails.pii);
}

function isHeaderRecord(headers: unknown): headers is Record<string, string | string[] | undefined> {
  return typeof headers === 'object' && headers !== null && !Array.isArray(headers) && !(Symbol.iterator in headers);
}
