import { ROOT_CONTEXT, trace, TraceFlags, type TextMapPropagator, type TraceState, type TracerProvider } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, Sampler, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TOLLBOOTH_VERSION } from '../../version.js';

/**
 * Where request spans go, and what the SDK would have given them: request tracing builds its
 * spans as finished records (span-records.ts) and hands them to the span processor (the SDK's
 * batch processor in the gateway: its bounded queue, OTEL_BSP_* settings, exporter and retries),
 * with the sampler, resource and instrumentation scope of the SDK's tracer provider, so they
 * export exactly as SDK spans would, without an SDK `Span` object per span.
 */
export interface SpanPipeline {
  readonly processor: Pick<SpanProcessor, 'onEnd'>;
  readonly sampler: Sampler;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  readonly limits: AttributeLimits;
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
 * The pipeline of an SDK tracer provider: `processor` and `sampler` must be the ones the provider
 * was built with. Its resource and scope are read from a span its tracer starts (and never ends,
 * so never exports): the very objects the SDK puts on its own spans, so request spans and library
 * spans (ioredis) share one resource and scope and the exporter groups them as usual. The probe
 * has a sampled parent whose trace id every ratio above zero samples; a sampler that still records
 * nothing (always_off, ratio 0) never lets a request span be built, and `fallbackResource` stands in.
 */
export function spanPipelineOf(
  provider: TracerProvider,
  processor: Pick<SpanProcessor, 'onEnd'>,
  sampler: Sampler,
  parseTraceState: SpanPipeline['parseTraceState'],
  fallbackResource: Resource,
  env: NodeJS.ProcessEnv = process.env,
): SpanPipeline {
  const tracer = provider.getTracer(REQUEST_SCOPE_NAME, TOLLBOOTH_VERSION);
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: PROBE_TRACE_ID, spanId: PROBE_SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const probe = tracer.startSpan('tollbooth.pipeline_probe', {}, parent) as unknown as Partial<ReadableSpan>;
  const resource = probe.resource ?? fallbackResource;
  const scope = probe.instrumentationScope ?? { name: REQUEST_SCOPE_NAME, version: TOLLBOOTH_VERSION };
  return { processor, sampler, resource, scope, limits: attributeLimitsFromEnv(env), parseTraceState };
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
