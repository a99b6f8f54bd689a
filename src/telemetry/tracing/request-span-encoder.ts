import { SpanKind, TraceFlags, type Attributes, type SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { OtlpProtobufWriter, spanFlags, WireType } from './otlp-protobuf-writer.js';
import type { RequestSpanFacts } from './request-span-facts.js';
import { writeRequestSpans, type RequestSpanWriter } from './request-spans.js';
import type { AttributeInput } from './span-attributes.js';
import type { AttributeLimits } from './span-pipeline.js';
import { spanTime, truncated } from './span-records.js';
import { RandomIds } from './trace-context.js';

/**
 * Request spans encoded straight from their facts into an OTLP `ExportTraceServiceRequest`, on
 * the export thread: `writeRequestSpans` says which spans a request makes and what they carry,
 * and this writer puts each one into the message as it is told, with no span record, attribute
 * object or time pair in between (the thread's work alone went from 6.4–7.0 to 3.9–5.2 µs per
 * request, test/bench/RESULTS.md, session 9). The message is the one `SpanRecordWriter`'s records
 * make through the standard serializer, the attribute limits applied as the SDK applies them
 * (test/unit/tracing/request-span-encoder.test.ts). Attributes go through the writer's pair
 * cache: the values that repeat from request to request reach the thread as one string per chunk
 * (the codec's words), so a repeated pair costs one hash per chunk and one copy per span.
 */
export class RequestSpanEncoder implements RequestSpanWriter {
  private readonly out = new OtlpProtobufWriter();
  private facts: RequestSpanFacts | undefined;
  private traceFlags = TraceFlags.NONE;
  /** Where the open span's length goes. */
  private spanStart = 0;
  private parentIsRemote = false;
  private attributeCount = 0;
  private droppedAttributes = 0;
  /** Whether the open span's attributes are over (its first event or its end). */
  private attributesClosed = false;

  constructor(
    private readonly resource: Resource,
    private readonly scope: InstrumentationScope,
    private readonly limits: AttributeLimits,
    /** Chooses the rate-limit spans' ids. */
    private readonly ids: Pick<RandomIds, 'spanId'> = new RandomIds(),
  ) {}

  /** One message with the spans of `batch`, under the one resource and scope of request spans. */
  encode(batch: readonly RequestSpanFacts[]): Uint8Array {
    const out = this.out;
    out.begin();
    out.tag(1, WireType.LengthDelimited);
    const resourceSpans = out.startLengthDelimited();
    out.resource(1, this.resource);
    out.tag(2, WireType.LengthDelimited);
    const scopeSpans = out.startLengthDelimited();
    out.scope(1, this.scope);
    for (const facts of batch) writeRequestSpans(facts, this, this.ids);
    if (this.scope.schemaUrl) out.stringField(3, this.scope.schemaUrl);
    out.finishLengthDelimited(scopeSpans);
    if (this.resource.schemaUrl) out.stringField(3, this.resource.schemaUrl);
    out.finishLengthDelimited(resourceSpans);
    this.facts = undefined;
    return out.end();
  }

  request(facts: RequestSpanFacts): void {
    this.facts = facts;
    this.traceFlags = facts.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
  }

  child(name: string, kind: SpanKind, spanId: string, startedAt: number, endedAt: number): void {
    this.open(name, kind, spanId, this.facts!.spanId, false, startedAt, endedAt);
  }

  server(name: string, startedAt: number, endedAt: number): void {
    const facts = this.facts!;
    this.open(name, SpanKind.SERVER, facts.spanId, facts.parent?.spanId, facts.parent?.isRemote === true, startedAt, endedAt);
  }

  /** An attribute of the open span, within the limits as the SDK keeps them (writeRequestSpans never writes a key twice). */
  set(key: string, value: AttributeInput): void {
    if (this.attributeCount >= this.limits.countLimit) {
      this.droppedAttributes += 1;
      return;
    }
    this.attributeCount += 1;
    const limit = this.limits.valueLengthLimit;
    this.out.keyValue(9, key, limit === Infinity ? value : truncated(value, limit));
  }

  event(name: string, at: number, attributes: Attributes): void {
    this.closeAttributes();
    const out = this.out;
    out.tag(11, WireType.LengthDelimited);
    const start = out.startLengthDelimited();
    this.time(1, at);
    out.stringField(2, name);
    out.attributes(3, attributes);
    out.finishLengthDelimited(start);
  }

  end(status: SpanStatus): void {
    this.closeAttributes();
    const out = this.out;
    out.status(15, status);
    out.fixed32Field(16, spanFlags(this.traceFlags, this.parentIsRemote));
    out.finishLengthDelimited(this.spanStart);
  }

  /** Span fields 1 to 8: ids, trace state, parent, name, kind, times. */
  private open(name: string, kind: SpanKind, spanId: string, parentSpanId: string | undefined, parentIsRemote: boolean, startedAt: number, endedAt: number): void {
    const facts = this.facts!;
    const out = this.out;
    out.tag(2, WireType.LengthDelimited);
    this.spanStart = out.startLengthDelimited();
    out.hexField(1, facts.traceId);
    out.hexField(2, spanId);
    // Already in canonical form: the event loop took it from the parsed trace state.
    if (facts.traceState) out.stringField(3, facts.traceState);
    if (parentSpanId !== undefined) out.hexField(4, parentSpanId);
    out.stringField(5, name);
    // The API's SpanKind has no UNSPECIFIED: OTLP's values are one higher.
    out.tag(6, WireType.Varint);
    out.varint32(kind + 1);
    this.time(7, startedAt);
    this.time(8, endedAt);
    this.parentIsRemote = parentIsRemote;
    this.attributeCount = 0;
    this.droppedAttributes = 0;
    this.attributesClosed = false;
  }

  /** Field 10, the dropped attributes, once the span's attributes are over. */
  private closeAttributes(): void {
    if (this.attributesClosed) return;
    this.attributesClosed = true;
    this.out.countField(10, this.droppedAttributes);
  }

  private time(field: number, performanceMs: number): void {
    const [seconds, nanos] = spanTime(performanceMs, this.facts!.epochOffsetMs);
    this.out.timeField(field, seconds, nanos);
  }
}
