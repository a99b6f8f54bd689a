import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { OtlpProtobufWriter, spanFlags, WireType } from './otlp-protobuf-writer.js';

/**
 * OTLP `ExportTraceServiceRequest` protobuf encoding of finished SDK spans (`ReadableSpan`), in one
 * pass into one buffer per batch (otlp-protobuf-writer.ts): the same message as
 * `ProtobufTraceSerializer` of @opentelemetry/otlp-transformer, for less CPU. Library spans'
 * batches (ioredis) are encoded with it on the event loop; tests and the cost scripts use it for
 * request spans built in process.
 */
export class OtlpSpanEncoder {
  private readonly out = new OtlpProtobufWriter();

  /** The encoded request, in a memory block of its own (see `OtlpProtobufWriter.end`). */
  encode(spans: readonly ReadableSpan[]): Uint8Array {
    const out = this.out;
    out.begin();
    for (const [resource, scopes] of groupByResourceAndScope(spans)) {
      out.tag(1, WireType.LengthDelimited);
      const resourceSpans = out.startLengthDelimited();
      out.resource(1, resource);
      for (const scopeSpans of scopes.values()) {
        out.tag(2, WireType.LengthDelimited);
        this.writeScopeSpans(scopeSpans);
      }
      if (resource.schemaUrl) out.stringField(3, resource.schemaUrl);
      out.finishLengthDelimited(resourceSpans);
    }
    return out.end();
  }

  private writeScopeSpans(spans: readonly ReadableSpan[]): void {
    const out = this.out;
    const start = out.startLengthDelimited();
    const scope = spans[0]!.instrumentationScope;
    out.scope(1, scope);
    for (const span of spans) {
      out.tag(2, WireType.LengthDelimited);
      this.writeSpan(span);
    }
    if (scope.schemaUrl) out.stringField(3, scope.schemaUrl);
    out.finishLengthDelimited(start);
  }

  private writeSpan(span: ReadableSpan): void {
    const out = this.out;
    const start = out.startLengthDelimited();
    const context = span.spanContext();
    const parent = span.parentSpanContext;
    out.hexField(1, context.traceId);
    out.hexField(2, context.spanId);
    const traceState = context.traceState?.serialize();
    if (traceState) out.stringField(3, traceState);
    if (parent?.spanId) out.hexField(4, parent.spanId);
    out.stringField(5, span.name);
    // The API's SpanKind has no UNSPECIFIED: OTLP's values are one higher.
    out.tag(6, WireType.Varint);
    out.varint32(span.kind + 1);
    writeTime(out, 7, span.startTime);
    writeTime(out, 8, span.endTime);
    out.attributes(9, span.attributes);
    out.countField(10, span.droppedAttributesCount);
    for (const event of span.events) this.writeEvent(event);
    out.countField(12, span.droppedEventsCount);
    for (const link of span.links) this.writeLink(link.context, link.attributes, link.droppedAttributesCount);
    out.countField(14, span.droppedLinksCount);
    out.status(15, span.status);
    out.fixed32Field(16, spanFlags(context.traceFlags, parent?.isRemote));
    out.finishLengthDelimited(start);
  }

  private writeEvent(event: TimedEvent): void {
    const out = this.out;
    out.tag(11, WireType.LengthDelimited);
    const start = out.startLengthDelimited();
    writeTime(out, 1, event.time);
    out.stringField(2, event.name);
    if (event.attributes !== undefined) out.attributes(3, event.attributes);
    out.countField(4, event.droppedAttributesCount);
    out.finishLengthDelimited(start);
  }

  private writeLink(context: SpanContext, attributes: Attributes | undefined, droppedAttributesCount: number | undefined): void {
    const out = this.out;
    out.tag(13, WireType.LengthDelimited);
    const start = out.startLengthDelimited();
    out.hexField(1, context.traceId);
    out.hexField(2, context.spanId);
    const traceState = context.traceState?.serialize();
    if (traceState) out.stringField(3, traceState);
    if (attributes !== undefined) out.attributes(4, attributes);
    out.countField(5, droppedAttributesCount);
    out.fixed32Field(6, spanFlags(context.traceFlags, context.isRemote));
    out.finishLengthDelimited(start);
  }
}

function writeTime(out: OtlpProtobufWriter, field: number, time: HrTime): void {
  out.timeField(field, time[0], time[1]);
}

/** Spans grouped as OTLP nests them: by resource, then by instrumentation scope (both by identity). */
function groupByResourceAndScope(spans: readonly ReadableSpan[]): Map<Resource, Map<InstrumentationScope, ReadableSpan[]>> {
  const resources = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = resources.get(span.resource);
    if (scopes === undefined) {
      scopes = new Map();
      resources.set(span.resource, scopes);
    }
    const records = scopes.get(span.instrumentationScope);
    if (records === undefined) scopes.set(span.instrumentationScope, [span]);
    else records.push(span);
  }
  return resources;
}
