import { ROOT_CONTEXT, trace, TraceFlags, type TextMapPropagator, type TracerProvider } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { IdGenerator, ReadableSpan, Sampler, SpanLimits, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TOLLBOOTH_VERSION } from '../../version.js';
import type { TraceExportCounts } from './reporting-exporter.js';

/**
 * Where request spans go and how a request's trace context is decided and read: the SDK's span
 * processor the finished span records are handed to (its `BatchSpanProcessor` in the gateway, a
 * simple one in tests), the SDK's sampler and id generator (the tracer provider's own), the
 * propagator (the one the NodeSDK set up from OTEL_PROPAGATORS: W3C trace context and baggage by
 * default), and what every request span carries.
 */
export interface SpanPipeline {
  readonly processor: Pick<SpanProcessor, 'onEnd'>;
  readonly sampler: Sampler;
  readonly idGenerator: IdGenerator;
  readonly propagator: Pick<TextMapPropagator, 'inject' | 'extract'>;
  readonly origin: SpanOrigin;
  /** Spans exported, failed and dropped so far (the gateway's; tests have none). */
  readonly exportCounts?: TraceExportCounts | undefined;
}

/** What request spans carry besides their facts: the SDK's resource, scope and attribute limits. */
export interface SpanOrigin {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  readonly limits: SpanLimits;
}

export const REQUEST_SCOPE_NAME = 'tollbooth';

let activePipeline: SpanPipeline | undefined;

/** The pipeline request spans go to; undefined while tracing is off. */
export function activeSpanPipeline(): SpanPipeline | undefined {
  return activePipeline;
}

/** Makes `pipeline` the one request spans go to (the SDK start-up does; tests pass an in-memory one). Undefined: off. */
export function useSpanPipeline(pipeline: SpanPipeline | undefined): void {
  activePipeline = pipeline;
}

/** Spans exported, failed and dropped by the active pipeline; undefined while tracing is off (no series). */
export function traceExportCounts(): TraceExportCounts | undefined {
  return activePipeline?.exportCounts;
}

/**
 * The resource and instrumentation scope of an SDK tracer provider, read from a span its tracer
 * starts (and never ends, so never exports): the very objects the SDK puts on its own spans, so
 * request spans and library spans (ioredis) share them and the exporter groups them together. The
 * probe has a sampled parent whose trace id every ratio above zero samples; a sampler that records
 * nothing (always_off) never lets a request span be built, and `fallbackResource` stands in.
 */
export function spanOriginOf(provider: TracerProvider, fallbackResource: Resource, limits: SpanLimits): SpanOrigin {
  const tracer = provider.getTracer(REQUEST_SCOPE_NAME, TOLLBOOTH_VERSION);
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const probe = tracer.startSpan('tollbooth.pipeline_probe', {}, parent) as unknown as Partial<ReadableSpan>;
  return {
    resource: probe.resource ?? fallbackResource,
    scope: probe.instrumentationScope ?? { name: REQUEST_SCOPE_NAME, version: TOLLBOOTH_VERSION },
    limits,
  };
}
