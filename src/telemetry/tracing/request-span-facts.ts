import { TraceFlags, type Attributes } from '@opentelemetry/api';
import type { RequestMeasures } from '../measures.js';
import type { RequestObservation } from '../observation.js';
import type { RequestTrace } from './request-trace.js';
import { conversationIdOf, replicaEndpoint, type ConversationSources } from './span-attributes.js';

/**
 * Everything the spans of one finished request are built from, as plain data: the trace's ids,
 * the times (performance.now() milliseconds and the one offset that turns them into wall-clock
 * time) and the facts the attributes say. The event loop only gathers these; the spans are built,
 * encoded and sent by the export thread (`RequestSpanSink`), or in process where a test or a
 * script hands them to a span processor. A value that is undefined becomes no attribute.
 */
export interface RequestSpanFacts {
  readonly traceId: string;
  /** The SERVER span's id. */
  readonly spanId: string;
  readonly sampled: boolean;
  /** The trace's `tracestate`, as a header value. */
  readonly traceState: string | undefined;
  /** The client's span, when a valid trace context came in (same trace id). */
  readonly parent: ParentFacts | undefined;
  /** Attributes the sampler asked for, put on the SERVER span. */
  readonly samplerAttributes: Attributes | undefined;
  /** Wall-clock milliseconds minus performance.now(), read once at arrival. */
  readonly epochOffsetMs: number;

  readonly method: string;
  readonly route: string;
  readonly requestId: string;
  readonly receivedAt: number;
  /** When the exchange ended (or the spans were gathered, if it never said). */
  readonly endedAt: number;
  readonly status: number | undefined;
  readonly outcome: string;
  /** The measures' error type (a catalogue code, `upstream_http_<status>`…). */
  readonly errorType: string | undefined;
  readonly keyId: string | undefined;
  readonly tenant: string | undefined;
  readonly routingOutcome: string | undefined;
  /** Replicas tried after the first; undefined when the request was never dispatched. */
  readonly failovers: number | undefined;
  readonly sessionKeySource: string | undefined;
  readonly overheadMs: number | undefined;
  readonly rateLimit: RateLimitSpanFacts | undefined;

  readonly requestedModel: string | undefined;
  readonly stream: boolean;
  readonly maxTokens: number | undefined;
  readonly temperature: number | undefined;
  readonly conversationId: string | undefined;
  /** Opt-in content (tracing.captureContent), as JSON text. */
  readonly inputMessages: string | undefined;
  readonly outputMessages: string | undefined;

  readonly responseId: string | undefined;
  readonly responseModel: string | undefined;
  readonly finishReasons: readonly string[];
  /** Usage as the replica reported it; undefined when the counts are not exact. */
  readonly usage: UsageFacts | undefined;
  /** When the first content was written to the client, with the TTFTs; undefined without a first token. */
  readonly firstToken: FirstTokenFacts | undefined;

  readonly attempts: readonly AttemptFacts[];
}

export interface ParentFacts {
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote: boolean;
}

export interface RateLimitSpanFacts {
  readonly outcome: string;
  readonly limitedBy: string | undefined;
  readonly store: string;
  readonly reservedTokens: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface UsageFacts {
  readonly input: number;
  readonly output: number;
  readonly cachedInput: number;
}

export interface FirstTokenFacts {
  readonly at: number;
  readonly ttftMs: number;
  readonly upstreamTtftMs: number | undefined;
}

/** One upstream try: dispatch until it failed (`endedAt`) or, for the last one, until the exchange ended. */
export interface AttemptFacts {
  readonly spanId: string;
  readonly startedAt: number;
  readonly endedAt: number | undefined;
  readonly errorType: string | undefined;
  readonly replica: string;
  readonly address: string;
  readonly port: number;
}

/** Where request span facts go: the export thread in the gateway, a span processor in process elsewhere. */
export interface RequestSpanSink {
  add(facts: RequestSpanFacts): void;
}

/** The facts of a recorded request, read once from its trace handle, observation and measures. */
export function requestSpanFacts(
  handle: RequestTrace,
  observation: RequestObservation,
  measures: RequestMeasures,
  conversation: ConversationSources,
): RequestSpanFacts {
  const server = handle.spanContext;
  const parent = handle.parent;
  const json = isRecord(observation.requestJson) ? observation.requestJson : undefined;
  const rateLimit = observation.rateLimit;
  const streamFacts = observation.streamFacts;
  const tokens = measures.tokens;
  const firstContentAt = observation.firstContentWrittenAt;
  // Content goes on the attempt spans only (opt-in).
  const content = handle.attempts.length > 0 ? handle.content : undefined;
  return {
    traceId: server.traceId,
    spanId: server.spanId,
    sampled: (server.traceFlags & TraceFlags.SAMPLED) !== 0,
    traceState: handle.traceStateHeader,
    parent: parent === undefined ? undefined : { spanId: parent.spanId, traceFlags: parent.traceFlags, isRemote: parent.isRemote === true },
    samplerAttributes: handle.samplerAttributes,
    epochOffsetMs: handle.epochOffsetMs,
    method: observation.method,
    route: observation.route,
    requestId: observation.requestId,
    receivedAt: observation.receivedAt,
    endedAt: observation.completedAt ?? performance.now(),
    status: observation.status,
    outcome: measures.outcome,
    errorType: measures.errorType ?? undefined,
    keyId: observation.keyId,
    tenant: observation.tenant,
    routingOutcome: observation.routingOutcome,
    failovers: observation.dispatchedAt === undefined ? undefined : observation.failovers,
    sessionKeySource: observation.sessionKeySource,
    overheadMs: measures.overheadMs,
    rateLimit:
      rateLimit === undefined
        ? undefined
        : {
            outcome: rateLimit.outcome,
            limitedBy: rateLimit.limitedBy,
            store: rateLimit.store,
            reservedTokens: rateLimit.reservedTokens,
            startedAt: rateLimit.startedAt,
            endedAt: rateLimit.endedAt,
          },
    requestedModel: observation.requestedModel,
    stream: observation.stream,
    maxTokens: finiteNumber(json?.max_tokens) ?? finiteNumber(json?.max_completion_tokens) ?? finiteNumber(json?.max_output_tokens),
    temperature: finiteNumber(json?.temperature),
    conversationId: conversationIdOf(handle.headers, json, conversation),
    inputMessages: content?.input(observation),
    outputMessages: content?.output(observation),
    responseId: streamFacts?.responseId,
    responseModel: streamFacts?.responseModel,
    finishReasons: streamFacts?.finishReasons ?? NO_REASONS,
    usage: tokens.source === 'exact' ? { input: tokens.input, output: tokens.output, cachedInput: tokens.cachedInput } : undefined,
    firstToken:
      measures.ttftMs !== undefined && firstContentAt !== undefined
        ? { at: firstContentAt, ttftMs: measures.ttftMs, upstreamTtftMs: measures.upstreamTtftMs }
        : undefined,
    attempts: handle.attempts.map((attempt) => {
      const { address, port } = replicaEndpoint(attempt.replica);
      return {
        spanId: attempt.spanId,
        startedAt: attempt.startedAt,
        endedAt: attempt.endedAt,
        errorType: attempt.errorType,
        replica: attempt.replica.name,
        address,
        port,
      };
    }),
  };
}

const NO_REASONS: readonly string[] = [];

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
