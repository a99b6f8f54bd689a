import type { Attributes } from '@opentelemetry/api';
import { core, node, resources, tracing } from '@opentelemetry/sdk-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { spanOriginOf, type SpanPipeline } from '../../../src/telemetry/tracing/span-pipeline.js';

/**
 * A real OpenTelemetry tracer provider whose spans land in memory (W3C trace context propagation
 * and the async-local-storage context manager registered as the SDK registers them), and the span
 * pipeline request tracing uses with it, made as the SDK start-up makes it (the provider's
 * processor, sampler, resource and scope, the SDK's id generator and W3C propagator).
 */
export function inMemoryTracing(sampler?: tracing.Sampler): { exporter: tracing.InMemorySpanExporter; provider: node.NodeTracerProvider; pipeline: SpanPipeline } {
  const exporter = new tracing.InMemorySpanExporter();
  const processor = new tracing.SimpleSpanProcessor(exporter);
  const chosen = sampler ?? new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() });
  const provider = new node.NodeTracerProvider({ spanProcessors: [processor], sampler: chosen });
  provider.register();
  const pipeline: SpanPipeline = {
    processor,
    sampler: chosen,
    idGenerator: new tracing.RandomIdGenerator(),
    propagator: new core.W3CTraceContextPropagator(),
    origin: spanOriginOf(provider, resources.defaultResource(), {}),
  };
  return { exporter, provider, pipeline };
}

export function spanNamed(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((span) => span.name === name);
  if (found.length !== 1) throw new Error(`expected one span named "${name}", found ${found.length} among ${spans.map((span) => span.name).join(', ')}`);
  return found[0]!;
}

export function parentIdOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** Span time (HrTime) as milliseconds since the epoch. */
export function epochMs(time: readonly [number, number]): number {
  return time[0] * 1000 + time[1] / 1e6;
}

export function everyAttributeValue(spans: readonly ReadableSpan[]): string[] {
  const values: string[] = [];
  const add = (attributes: Attributes): void => {
    for (const value of Object.values(attributes)) values.push(JSON.stringify(value));
  };
  for (const span of spans) {
    add(span.attributes);
    for (const event of span.events) add(event.attributes ?? {});
  }
  return values;
}
