import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type SpanContext, type SpanStatus, type TraceState } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';
import * as A from './genai-attributes.js';
import type { RequestSpanFacts, RequestSpanSink } from './request-span-facts.js';
import { addResponseAttributes, attemptSpanName, rateLimitAttributes, requestAttributes, serverAttributes, serverSpanName } from './span-attributes.js';
import type { AttributeLimits } from './span-pipeline.js';
import { limitedAttributes, NO_EVENTS, SpanRecord, spanTime, UNSET_STATUS } from './span-records.js';
import { RandomIds } from './trace-context.js';

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

/**
 * The spans of one finished request, from its facts: the SERVER span, the rate-limit child, one
 * CLIENT span per upstream attempt (a failover ends its try with the transport error; the
 * answering one carries the response, usage and the first-token event). Runs where the spans
 * are exported: in the export thread in the gateway.
 */
export class RequestSpanBuilder {
  /** Only the rate-limit span's id is chosen here: nothing outside the trace refers to it. */
  private readonly ids = new RandomIds();

  constructor(private readonly origin: SpanOrigin) {}

  build(facts: RequestSpanFacts, emit: (span: ReadableSpan) => void): void {
    const { resource, scope, limits, parseTraceState } = this.origin;
    const traceState = facts.traceState === undefined ? undefined : parseTraceState(facts.traceState);
    const traceFlags = facts.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
    const server: SpanContext = { traceId: facts.traceId, spanId: facts.spanId, traceFlags, traceState };
    const child = (spanId: string): SpanContext => ({ traceId: facts.traceId, spanId, traceFlags, traceState });
    const time = (performanceMs: number) => spanTime(performanceMs, facts.epochOffsetMs);
    const record = (name: string, kind: SpanKind, context: SpanContext, parent: SpanContext | undefined, start: number, end: number, status: SpanStatus, attributes: Attributes, events: TimedEvent[]) => {
      const limited = limitedAttributes(attributes, limits);
      emit(new SpanRecord(name, kind, context, parent, time(start), time(end), status, limited.values, limited.dropped, events, resource, scope));
    };

    const rateLimit = facts.rateLimit;
    if (rateLimit !== undefined) {
      record(A.RATE_LIMIT_SPAN, SpanKind.INTERNAL, child(this.ids.spanId()), server, rateLimit.startedAt, rateLimit.endedAt, UNSET_STATUS, rateLimitAttributes(rateLimit), NO_EVENTS);
    }

    if (facts.attempts.length > 0) {
      const shared = requestAttributes(facts);
      const name = attemptSpanName(facts.method, facts.route, facts.requestedModel);
      const last = facts.attempts.length - 1;
      facts.attempts.forEach((attempt, index) => {
        const own = index === last ? shared : { ...shared };
        own[A.SERVER_ADDRESS] = attempt.address;
        own[A.SERVER_PORT] = attempt.port;
        own[A.ROUTING_REPLICA] = attempt.replica;
        own[A.ROUTING_ATTEMPT] = index + 1;
        let status = UNSET_STATUS;
        let events = NO_EVENTS;
        let end = facts.endedAt;
        if (index < last || attempt.endedAt !== undefined) {
          own[A.ERROR_TYPE] = attempt.errorType ?? 'unknown';
          status = errorStatus(attempt.errorType);
          end = attempt.endedAt ?? facts.endedAt;
        } else {
          addResponseAttributes(own, facts);
          if (facts.errorType !== undefined) {
            own[A.ERROR_TYPE] = facts.errorType;
            if (facts.outcome === 'upstream_error' || facts.outcome === 'upstream_failure') status = errorStatus(facts.errorType);
          }
          const firstToken = facts.firstToken;
          if (firstToken !== undefined) {
            const attributes: Attributes = { [A.TTFT_MS]: firstToken.ttftMs };
            if (firstToken.upstreamTtftMs !== undefined) attributes[A.UPSTREAM_TTFT_MS] = firstToken.upstreamTtftMs;
            events = [{ name: A.FIRST_TOKEN_EVENT, time: time(firstToken.at), attributes, droppedAttributesCount: 0 }];
          }
        }
        record(name, SpanKind.CLIENT, child(attempt.spanId), server, attempt.startedAt, end, status, own, events);
      });
    }

    const own = serverAttributes(facts);
    const status = (facts.status ?? 0) >= 500 || facts.outcome === 'upstream_failure' ? errorStatus(facts.errorType) : UNSET_STATUS;
    const parent = facts.parent === undefined ? undefined : { traceId: facts.traceId, spanId: facts.parent.spanId, traceFlags: facts.parent.traceFlags, isRemote: facts.parent.isRemote, traceState };
    record(
      serverSpanName(facts.method, facts.route),
      SpanKind.SERVER,
      server,
      parent,
      facts.receivedAt,
      facts.endedAt,
      status,
      facts.samplerAttributes === undefined ? own : { ...facts.samplerAttributes, ...own },
      NO_EVENTS,
    );
  }
}

function errorStatus(message: string | undefined): SpanStatus {
  return message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message };
}

/**
 * Request spans built in process and handed to `processor` as they are (the SDK's processors and
 * exporters read them as ended spans): where no export thread is wanted, such as tests with an
 * in-memory exporter and the cost scripts.
 */
export function spansBuiltInProcess(processor: Pick<SpanProcessor, 'onEnd'>, origin: SpanOrigin): RequestSpanSink {
  const builder = new RequestSpanBuilder(origin);
  const emit = (span: ReadableSpan): void => processor.onEnd(span);
  return { add: (facts) => builder.build(facts, emit) };
}
