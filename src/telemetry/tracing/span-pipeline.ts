import { ROOT_CONTEXT, trace, TraceFlags, type TextMapPropagator, type TraceState, type TracerProvider } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, Sampler } from '@opentelemetry/sdk-trace-base';
import { TOLLBOOTH_VERSION } from '../../version.js';
import type { RequestSpanSink } from './request-span-facts.js';
import type { SpanOrigin } from './request-spans.js';

/**
 * Where request spans go, and how a request's trace context is decided and read: the sink the
 * facts of each recorded request are handed to (the export thread in the gateway, where the spans
 * are built, encoded and sent; a span processor in process in tests), the sampler of the SDK's
 * tracer provider, and the trace-state parser. Request tracing builds no SDK `Span` objects.
 */
export interface SpanPipeline {
  readonly requestSpans: RequestSpanSink;
  readonly sampler: Sampler;
  /** A `TraceState` from a `tracestate` header (the SDK's parser: invalid members dropped). */
  readonly parseTraceState: (header: string) => TraceState;
  /**
   * Set when OTEL_PROPAGATORS asks for more than W3C Trace Context (and baggage): request tracing
   * then reads the client's context and writes each try's through it, as the SDK's propagation
   * would. Unset (the default): `traceparent`/`tracestate` are read and written directly.
   */
  readonly propagator?: Pick<TextMapPropagator, 'inject' | 'extract'> | undefined;
}

/** Whether OTEL_PROPAGATORS (default `tracecontext,baggage`; names as the NodeSDK reads them, case-sensitive) is W3C Trace Context, with or without baggage, and nothing else. */
export function propagatesW3cOnly(env: NodeJS.ProcessEnv): boolean {
  const names = (env.OTEL_PROPAGATORS?.trim() || 'tracecontext,baggage')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return names.includes('tracecontext') && names.every((name) => name === 'tracecontext' || name === 'baggage');
}

/** The span attribute limits of OTEL_SPAN_ATTRIBUTE_* / OTEL_ATTRIBUTE_* (the SDK's defaults: 128, unlimited). */
export interface AttributeLimits {
  readonly countLimit: number;
  readonly valueLengthLimit: number;
}

export const REQUEST_SCOPE_NAME = 'tollbooth';

let activePipeline: SpanPipeline | undefined;

/** The pipeline request spans go to; undefined while tracing is off. */
export function activeSpanPipeline(): SpanPipeline | undefined {
  return activePipeline;
}

/**
 * Makes `pipeline` the one request spans go to (the SDK start-up does; tests pass one with an
 * in-memory exporter). Undefined turns request tracing off.
 */
export function useSpanPipeline(pipeline: SpanPipeline | undefined): void {
  activePipeline = pipeline;
}

/**
 * What request spans carry from an SDK tracer provider: its resource and instrumentation scope,
 * read from a span its tracer starts (and never ends, so never exports): the very objects the SDK
 * puts on its own spans, so request spans and library spans (ioredis) share one resource and scope
 * and the exporter groups them as usual. The probe has a sampled parent whose trace id every ratio
 * above zero samples; a sampler that still records nothing (always_off, ratio 0) never lets a
 * request span be built, and `fallbackResource` stands in.
 */
export function spanOriginOf(
  provider: TracerProvider,
  parseTraceState: SpanOrigin['parseTraceState'],
  fallbackResource: Resource,
  env: NodeJS.ProcessEnv = process.env,
): SpanOrigin {
  const tracer = provider.getTracer(REQUEST_SCOPE_NAME, TOLLBOOTH_VERSION);
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: PROBE_TRACE_ID, spanId: PROBE_SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const probe = tracer.startSpan('tollbooth.pipeline_probe', {}, parent) as unknown as Partial<ReadableSpan>;
  const resource = probe.resource ?? fallbackResource;
  const scope = probe.instrumentationScope ?? { name: REQUEST_SCOPE_NAME, version: TOLLBOOTH_VERSION };
  return { resource, scope, limits: attributeLimitsFromEnv(env), parseTraceState };
}

const PROBE_TRACE_ID = '00000000000000000000000000000001';
const PROBE_SPAN_ID = '0000000000000001';

/** The attribute limits as the SDK reads them: the span-specific variable, then the general one, then the default. */
export function attributeLimitsFromEnv(env: NodeJS.ProcessEnv): AttributeLimits {
  return {
    countLimit: numberFrom(env.OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT) ?? numberFrom(env.OTEL_ATTRIBUTE_COUNT_LIMIT) ?? 128,
    valueLengthLimit: numberFrom(env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT) ?? numberFrom(env.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) ?? Infinity,
  };
}

function numberFrom(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}
