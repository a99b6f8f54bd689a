import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type SpanContext, type SpanStatus, type TraceState } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';
import * as A from './genai-attributes.js';
import type { RequestSpanFacts, RequestSpanSink } from './request-span-facts.js';
import { attemptSpanName, attributesInto, ownedValue, rateLimitAttributes, requestAttributes, responseAttributes, serverAttributes, serverSpanName, type AttributeInput, type AttributeWriter } from './span-attributes.js';
import type { AttributeLimits } from './span-pipeline.js';
import { limitedAttributes, NO_EVENTS, SpanRecord, spanTime, UNSET_STATUS } from './span-records.js';
import { RandomIds } from './trace-context.js';

/**
 * Where the spans of a request are written, span by span: as span records in process
 * (`SpanRecordWriter`), or straight into an OTLP message on the export thread
 * (`RequestSpanEncoder`). After `request`, each span is opened (`child` or `server`), gets its
 * attributes (`set`), then its events, and is closed with its status (`end`). Times are
 * performance.now() milliseconds of the request's clock (`RequestSpanFacts.epochOffsetMs`).
 */
export interface RequestSpanWriter extends AttributeWriter {
  /** The request whose spans follow: its trace id, sampling, trace state, SERVER span and clock. */
  request(facts: RequestSpanFacts): void;
  /** Opens a child of the request's SERVER span. */
  child(name: string, kind: SpanKind, spanId: string, startedAt: number, endedAt: number): void;
  /** Opens the SERVER span (its ids and the client's span as parent come from the request's facts). */
  server(name: string, startedAt: number, endedAt: number): void;
  /** An event of the open span, after its attributes. */
  event(name: string, at: number, attributes: Attributes): void;
  end(status: SpanStatus): void;
}

/**
 * The spans of one finished request, from its facts: the rate-limit child, one CLIENT span per
 * upstream attempt (a failover ends its try with the transport error; the answering one carries
 * the response, usage and the first-token event), and the SERVER span. `ids` chooses the rate-limit
 * span's id: nothing outside the trace refers to it.
 */
export function writeRequestSpans(facts: RequestSpanFacts, out: RequestSpanWriter, ids: Pick<RandomIds, 'spanId'>): void {
  out.request(facts);
  const rateLimit = facts.rateLimit;
  if (rateLimit !== undefined) {
    out.child(A.RATE_LIMIT_SPAN, SpanKind.INTERNAL, ids.spanId(), rateLimit.startedAt, rateLimit.endedAt);
    rateLimitAttributes(rateLimit, out);
    out.end(UNSET_STATUS);
  }

  const attempts = facts.attempts;
  if (attempts.length > 0) {
    const name = attemptSpanName(facts.method, facts.route, facts.requestedModel);
    const last = attempts.length - 1;
    for (let index = 0; index <= last; index++) {
      const attempt = attempts[index]!;
      const failed = index < last || attempt.endedAt !== undefined;
      out.child(name, SpanKind.CLIENT, attempt.spanId, attempt.startedAt, failed ? (attempt.endedAt ?? facts.endedAt) : facts.endedAt);
      requestAttributes(facts, out);
      out.set(A.SERVER_ADDRESS, attempt.address);
      out.set(A.SERVER_PORT, attempt.port);
      out.set(A.ROUTING_REPLICA, attempt.replica);
      out.set(A.ROUTING_ATTEMPT, index + 1);
      if (failed) {
        out.set(A.ERROR_TYPE, attempt.errorType ?? 'unknown');
        out.end(errorStatus(attempt.errorType));
        continue;
      }
      responseAttributes(facts, out);
      let status = UNSET_STATUS;
      if (facts.errorType !== undefined) {
        out.set(A.ERROR_TYPE, facts.errorType);
        if (facts.outcome === 'upstream_error' || facts.outcome === 'upstream_failure') status = errorStatus(facts.errorType);
      }
      const firstToken = facts.firstToken;
      if (firstToken !== undefined) {
        const attributes: Attributes = { [A.TTFT_MS]: firstToken.ttftMs };
        if (firstToken.upstreamTtftMs !== undefined) attributes[A.UPSTREAM_TTFT_MS] = firstToken.upstreamTtftMs;
        out.event(A.FIRST_TOKEN_EVENT, firstToken.at, attributes);
      }
      out.end(status);
    }
  }

  out.server(serverSpanName(facts.method, facts.route), facts.receivedAt, facts.endedAt);
  if (facts.samplerAttributes === undefined) {
    serverAttributes(facts, out);
  } else {
    // The sampler's attributes first, ours over them (rare: the SDK's own samplers add none); empty values left out, as setAttribute leaves them.
    const merged: Attributes = { ...facts.samplerAttributes };
    serverAttributes(facts, attributesInto(merged));
    for (const key in merged) {
      const value = merged[key];
      if (value !== undefined && value !== null) out.set(key, value);
    }
  }
  out.end((facts.status ?? 0) >= 500 || facts.outcome === 'upstream_failure' ? errorStatus(facts.errorType) : UNSET_STATUS);
}

function errorStatus(message: string | undefined): SpanStatus {
  return message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message };
}

/**
 * What request spans carry besides their facts, the same for every request: the resource and
 * instrumentation scope of the SDK's tracer provider, the attribute limits of OTEL_*ATTRIBUTE_*,
 * and how a `tracestate` header becomes a `TraceState`.
 */
export interface SpanOrigin {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  readonly limits: AttributeLimits;
  readonly parseTraceState: (header: string) => TraceState;
}

/** Request spans as span records (`ReadableSpan`), each handed to `emit` as it is closed. */
export class SpanRecordWriter implements RequestSpanWriter {
  private facts: RequestSpanFacts | undefined;
  private serverContext: SpanContext | undefined;
  private name = '';
  private kind = SpanKind.INTERNAL;
  private context: SpanContext | undefined;
  private parent: SpanContext | undefined;
  private startedAt = 0;
  private endedAt = 0;
  private attributes: Attributes = {};
  private events: TimedEvent[] = NO_EVENTS;

  constructor(
    private readonly origin: SpanOrigin,
    private readonly emit: (span: ReadableSpan) => void,
  ) {}

  request(facts: RequestSpanFacts): void {
    this.facts = facts;
    const traceState = facts.traceState === undefined ? undefined : this.origin.parseTraceState(facts.traceState);
    this.serverContext = { traceId: facts.traceId, spanId: facts.spanId, traceFlags: facts.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, traceState };
  }

  child(name: string, kind: SpanKind, spanId: string, startedAt: number, endedAt: number): void {
    const server = this.serverContext!;
    this.open(name, kind, { ...server, spanId }, server, startedAt, endedAt);
  }

  server(name: string, startedAt: number, endedAt: number): void {
    const server = this.serverContext!;
    const parent = this.facts!.parent;
    this.open(
      name,
      SpanKind.SERVER,
      server,
      parent === undefined ? undefined : { traceId: server.traceId, spanId: parent.spanId, traceFlags: parent.traceFlags, isRemote: parent.isRemote, traceState: server.traceState },
      startedAt,
      endedAt,
    );
  }

  set(key: string, value: AttributeInput): void {
    this.attributes[key] = ownedValue(value);
  }

  event(name: string, at: number, attributes: Attributes): void {
    if (this.events === NO_EVENTS) this.events = [];
    this.events.push({ name, time: spanTime(at, this.facts!.epochOffsetMs), attributes, droppedAttributesCount: 0 });
  }

  end(status: SpanStatus): void {
    const { resource, scope, limits } = this.origin;
    const offset = this.facts!.epochOffsetMs;
    const limited = limitedAttributes(this.attributes, limits);
    this.emit(
      new SpanRecord(this.name, this.kind, this.context!, this.parent, spanTime(this.startedAt, offset), spanTime(this.endedAt, offset), status, limited.values, limited.dropped, this.events, resource, scope),
    );
  }

  private open(name: string, kind: SpanKind, context: SpanContext, parent: SpanContext | undefined, startedAt: number, endedAt: number): void {
    this.name = name;
    this.kind = kind;
    this.context = context;
    this.parent = parent;
    this.startedAt = startedAt;
    this.endedAt = endedAt;
    this.attributes = {};
    this.events = NO_EVENTS;
  }
}

/**
 * Request spans built in process and handed to `processor` as they are (the SDK's processors and
 * exporters read them as ended spans): where no export thread is wanted, such as tests with an
 * in-memory exporter and the cost scripts.
 */
export function spansBuiltInProcess(processor: Pick<SpanProcessor, 'onEnd'>, origin: SpanOrigin): RequestSpanSink {
  const ids = new RandomIds();
  const writer = new SpanRecordWriter(origin, (span) => processor.onEnd(span));
  return { add: (facts) => writeRequestSpans(facts, writer, ids) };
}
