import { SpanKind, SpanStatusCode, type Attributes, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import type { TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { RequestMeasures } from '../measures.js';
import type { RequestObservation } from '../../lifecycle/observation.js';
import * as A from './genai-attributes.js';
import type { RequestTrace } from './request-trace.js';
import { attemptSpanName, conversationIdOf, operationOf, replicaEndpoint, serverSpanName, type ConversationSources } from './span-attributes.js';
import type { SpanOrigin } from './span-pipeline.js';
import { SpanRecord, spanTime, UNSET_STATUS } from './span-records.js';

/**
 * The spans of one finished request, built once from its trace handle, observation and measures
 * (so every span says what the metrics and the access log say): the rate-limit child, one CLIENT
 * span per upstream attempt (a failover ends its try with the transport error; the answering one
 * carries the response, usage and the first-token event), and the SERVER span. A value that is
 * undefined becomes no attribute, as the SDK's `setAttribute` leaves it out. `spanId` chooses the
 * rate-limit span's id: nothing outside the trace refers to it.
 */
export function requestSpans(
  handle: RequestTrace,
  observation: RequestObservation,
  measures: RequestMeasures,
  conversation: ConversationSources,
  origin: SpanOrigin,
  spanId: () => string,
): SpanRecord[] {
  const server = handle.spanContext;
  const offset = handle.epochOffsetMs;
  const endedAt = observation.completedAt ?? performance.now();
  const errorType = measures.errorType ?? undefined;
  const record = (name: string, kind: SpanKind, context: SpanContext, parent: SpanContext | undefined, from: number, to: number, status: SpanStatus, attributes: Attributes, events: TimedEvent[] = []) =>
    new SpanRecord(name, kind, context, parent, spanTime(from, offset), spanTime(to, offset), status, attributes, events, origin.resource, origin.scope, origin.limits);
  const spans: SpanRecord[] = [];

  const rateLimit = observation.rateLimit;
  if (rateLimit !== undefined) {
    const attributes: Attributes = { [A.RATE_LIMIT_OUTCOME]: rateLimit.outcome };
    if (rateLimit.limitedBy !== undefined) attributes[A.RATE_LIMIT_LIMITED_BY] = rateLimit.limitedBy;
    attributes[A.RATE_LIMIT_STORE] = rateLimit.store;
    attributes[A.RATE_LIMIT_RESERVED_TOKENS] = rateLimit.reservedTokens;
    spans.push(record(A.RATE_LIMIT_SPAN, SpanKind.INTERNAL, { ...server, spanId: spanId() }, server, rateLimit.startedAt, rateLimit.endedAt, UNSET_STATUS, attributes));
  }

  const attempts = handle.attempts;
  if (attempts.length > 0) {
    const name = attemptSpanName(observation.method, observation.route, observation.requestedModel);
    const shared = requestAttributes(handle, observation, conversation);
    const last = attempts.length - 1;
    attempts.forEach((attempt, index) => {
      const failed = index < last || attempt.endedAt !== undefined;
      const { address, port } = replicaEndpoint(attempt.replica);
      const attributes: Attributes = { ...shared, [A.SERVER_ADDRESS]: address, [A.SERVER_PORT]: port, [A.ROUTING_REPLICA]: attempt.replica.name, [A.ROUTING_ATTEMPT]: index + 1 };
      const context = { ...server, spanId: attempt.spanId };
      if (failed) {
        attributes[A.ERROR_TYPE] = attempt.errorType ?? 'unknown';
        spans.push(record(name, SpanKind.CLIENT, context, server, attempt.startedAt, attempt.endedAt ?? endedAt, errorStatus(attempt.errorType), attributes));
        return;
      }
      responseAttributes(handle, observation, measures, attributes);
      let status = UNSET_STATUS;
      if (errorType !== undefined) {
        attributes[A.ERROR_TYPE] = errorType;
        if (measures.outcome === 'upstream_error' || measures.outcome === 'upstream_failure') status = errorStatus(errorType);
      }
      const events: TimedEvent[] = [];
      const firstContentAt = observation.firstContentWrittenAt;
      if (measures.ttftMs !== undefined && firstContentAt !== undefined) {
        const eventAttributes: Attributes = { [A.TTFT_MS]: measures.ttftMs };
        if (measures.upstreamTtftMs !== undefined) eventAttributes[A.UPSTREAM_TTFT_MS] = measures.upstreamTtftMs;
        events.push({ name: A.FIRST_TOKEN_EVENT, time: spanTime(firstContentAt, offset), attributes: eventAttributes, droppedAttributesCount: 0 });
      }
      spans.push(record(name, SpanKind.CLIENT, context, server, attempt.startedAt, endedAt, status, attributes, events));
    });
  }

  // The sampler's attributes first (the SDK's own samplers add none), ours over them.
  const attributes: Attributes = { ...handle.samplerAttributes, ...serverAttributes(observation, measures) };
  const status = (observation.status ?? 0) >= 500 || measures.outcome === 'upstream_failure' ? errorStatus(errorType) : UNSET_STATUS;
  spans.push(record(serverSpanName(observation.method, observation.route), SpanKind.SERVER, server, handle.parent, observation.receivedAt, endedAt, status, attributes));
  return spans;
}

function serverAttributes(observation: RequestObservation, measures: RequestMeasures): Attributes {
  const attributes: Attributes = { [A.HTTP_REQUEST_METHOD]: observation.method };
  if (observation.route !== 'unmatched') attributes[A.HTTP_ROUTE] = observation.route;
  if (observation.status !== undefined) attributes[A.HTTP_RESPONSE_STATUS_CODE] = observation.status;
  if (measures.errorType != null) attributes[A.ERROR_TYPE] = measures.errorType;
  attributes[A.REQUEST_ID] = observation.requestId;
  attributes[A.OUTCOME] = measures.outcome;
  if (observation.keyId !== undefined) attributes[A.API_KEY_ID] = observation.keyId;
  if (observation.tenant !== undefined) attributes[A.TENANT] = observation.tenant;
  if (observation.rateLimit !== undefined) attributes[A.RATE_LIMIT_OUTCOME] = observation.rateLimit.outcome;
  if (observation.routingOutcome !== undefined) attributes[A.ROUTING_OUTCOME] = observation.routingOutcome;
  // Replicas tried after the first, for a request that was dispatched at all.
  if (observation.dispatchedAt !== undefined) attributes[A.ROUTING_FAILOVERS] = observation.failovers;
  if (observation.sessionKeySource !== undefined) attributes[A.SESSION_KEY_SOURCE] = observation.sessionKeySource;
  if (measures.overheadMs !== undefined) attributes[A.OVERHEAD_MS] = measures.overheadMs;
  return attributes;
}

/** What every upstream attempt of the request shares: its GenAI attributes; the conversation id only from an explicit session id. */
function requestAttributes(handle: RequestTrace, observation: RequestObservation, conversation: ConversationSources): Attributes {
  const attributes: Attributes = {};
  const operation = operationOf(observation.route);
  const json = isRecord(observation.requestJson) ? observation.requestJson : undefined;
  if (operation !== undefined) {
    attributes[A.GEN_AI_OPERATION_NAME] = operation;
    attributes[A.GEN_AI_PROVIDER_NAME] = A.PROVIDER_VLLM;
  }
  if (observation.requestedModel !== undefined) attributes[A.GEN_AI_REQUEST_MODEL] = observation.requestedModel;
  if (operation !== undefined) attributes[A.GEN_AI_REQUEST_STREAM] = observation.stream;
  const maxTokens = finiteNumber(json?.max_tokens) ?? finiteNumber(json?.max_completion_tokens) ?? finiteNumber(json?.max_output_tokens);
  if (maxTokens !== undefined) attributes[A.GEN_AI_REQUEST_MAX_TOKENS] = maxTokens;
  const temperature = finiteNumber(json?.temperature);
  if (temperature !== undefined) attributes[A.GEN_AI_REQUEST_TEMPERATURE] = temperature;
  const conversationId = conversationIdOf(handle.headers, json, conversation);
  if (conversationId !== undefined) attributes[A.GEN_AI_CONVERSATION_ID] = conversationId;
  const input = handle.content?.input(observation);
  if (input !== undefined) attributes[A.GEN_AI_INPUT_MESSAGES] = input;
  return attributes;
}

/** The answering attempt's response: id, model, finish reasons, usage (exact counts only), status, opt-in content. */
function responseAttributes(handle: RequestTrace, observation: RequestObservation, measures: RequestMeasures, attributes: Attributes): void {
  const facts = observation.streamFacts;
  if (facts?.responseId !== undefined) attributes[A.GEN_AI_RESPONSE_ID] = facts.responseId;
  if (facts?.responseModel !== undefined) attributes[A.GEN_AI_RESPONSE_MODEL] = facts.responseModel;
  if (facts !== undefined && facts.finishReasons.length > 0) attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] = facts.finishReasons.slice();
  const tokens = measures.tokens;
  if (tokens.source === 'exact') {
    attributes[A.GEN_AI_USAGE_INPUT_TOKENS] = tokens.input;
    attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] = tokens.output;
    if (tokens.cachedInput > 0) attributes[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = tokens.cachedInput;
  }
  if (observation.status !== undefined) attributes[A.HTTP_RESPONSE_STATUS_CODE] = observation.status;
  const output = handle.content?.output(observation);
  if (output !== undefined) attributes[A.GEN_AI_OUTPUT_MESSAGES] = output;
}

function errorStatus(message: string | undefined): SpanStatus {
  return message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message };
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
