import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { INFERENCE_ENDPOINTS } from '../../proxy/endpoints.js';
import type { Replica } from '../../routing/replica.js';
import * as A from './genai-attributes.js';
import type { RateLimitSpanFacts, RequestSpanFacts } from './request-span-facts.js';

/**
 * The attributes of the request's spans, as pure functions of its span facts (gathered once from
 * the finished observation and its measures), so every span says what the metrics and the access
 * log say. They write through an `AttributeWriter`: into an attributes object where spans are
 * built in process, straight into the OTLP message on the export thread.
 * A value that is undefined is left out, as the SDK's `setAttribute` leaves it out: each attribute
 * is one conditional write under a constant key (a generic copy loop over the keys cost more, in
 * a profile under load, than building the span record itself).
 */

/** An attribute's value as the attribute functions give it: lists straight from the facts, not copied. */
export type AttributeInput = AttributeValue | readonly string[];

/** Where a span's attributes go, one at a time; a request's attribute functions never write a key twice. */
export interface AttributeWriter {
  set(key: string, value: AttributeInput): void;
}

/** An `AttributeWriter` into `attributes`. */
export function attributesInto(attributes: Attributes): AttributeWriter {
  return {
    set(key, value) {
      attributes[key] = ownedValue(value);
    },
  };
}

/** A value to keep in a span's attributes: a list is copied, so the span owns it. */
export function ownedValue(value: AttributeInput): AttributeValue {
  return Array.isArray(value) ? (value.slice() as AttributeValue) : (value as AttributeValue);
}

const OPERATION_BY_ROUTE = new Map(INFERENCE_ENDPOINTS.map((endpoint) => [endpoint.path, endpoint.operation]));

/** The GenAI operation of a route (chat, text_completion, embeddings…), undefined for pass-through paths. */
export function operationOf(route: string): string | undefined {
  return OPERATION_BY_ROUTE.get(route);
}

/** HTTP server span name: `{method} {route}`, or the method alone when no route matched. */
export function serverSpanName(method: string, route: string): string {
  return route === 'unmatched' ? method : `${method} ${route}`;
}

/** Upstream span name: `{gen_ai.operation.name} {gen_ai.request.model}` (e.g. `chat llama-3-8b`); the HTTP method for non-GenAI paths. */
export function attemptSpanName(method: string, route: string, model: string | undefined): string {
  const operation = operationOf(route);
  if (operation === undefined) return method;
  return model === undefined ? operation : `${operation} ${model}`;
}

export function serverAttributes(facts: RequestSpanFacts, out: AttributeWriter): void {
  out.set(A.HTTP_REQUEST_METHOD, facts.method);
  if (facts.route !== 'unmatched') out.set(A.HTTP_ROUTE, facts.route);
  if (facts.status !== undefined) out.set(A.HTTP_RESPONSE_STATUS_CODE, facts.status);
  if (facts.errorType !== undefined) out.set(A.ERROR_TYPE, facts.errorType);
  out.set(A.REQUEST_ID, facts.requestId);
  out.set(A.OUTCOME, facts.outcome);
  if (facts.keyId !== undefined) out.set(A.API_KEY_ID, facts.keyId);
  if (facts.tenant !== undefined) out.set(A.TENANT, facts.tenant);
  if (facts.rateLimit !== undefined) out.set(A.RATE_LIMIT_OUTCOME, facts.rateLimit.outcome);
  if (facts.routingOutcome !== undefined) out.set(A.ROUTING_OUTCOME, facts.routingOutcome);
  if (facts.failovers !== undefined) out.set(A.ROUTING_FAILOVERS, facts.failovers);
  if (facts.sessionKeySource !== undefined) out.set(A.SESSION_KEY_SOURCE, facts.sessionKeySource);
  if (facts.overheadMs !== undefined) out.set(A.OVERHEAD_MS, facts.overheadMs);
}

export function rateLimitAttributes(rateLimit: RateLimitSpanFacts, out: AttributeWriter): void {
  out.set(A.RATE_LIMIT_OUTCOME, rateLimit.outcome);
  if (rateLimit.limitedBy !== undefined) out.set(A.RATE_LIMIT_LIMITED_BY, rateLimit.limitedBy);
  out.set(A.RATE_LIMIT_STORE, rateLimit.store);
  out.set(A.RATE_LIMIT_RESERVED_TOKENS, rateLimit.reservedTokens);
}

/** Where the conversation id may come from: the session header and body fields, never a prompt prefix. */
export interface ConversationSources {
  readonly header: string | null;
  readonly bodyFields: readonly string[];
}

/**
 * What every upstream attempt of the request shares: the request's GenAI attributes. The
 * conversation id is a session id the client gave explicitly (see `conversationIdOf`).
 */
export function requestAttributes(facts: RequestSpanFacts, out: AttributeWriter): void {
  const operation = operationOf(facts.route);
  if (operation !== undefined) {
    out.set(A.GEN_AI_OPERATION_NAME, operation);
    out.set(A.GEN_AI_PROVIDER_NAME, A.PROVIDER_VLLM);
  }
  if (facts.requestedModel !== undefined) out.set(A.GEN_AI_REQUEST_MODEL, facts.requestedModel);
  if (operation !== undefined) out.set(A.GEN_AI_REQUEST_STREAM, facts.stream);
  if (facts.maxTokens !== undefined) out.set(A.GEN_AI_REQUEST_MAX_TOKENS, facts.maxTokens);
  if (facts.temperature !== undefined) out.set(A.GEN_AI_REQUEST_TEMPERATURE, facts.temperature);
  if (facts.conversationId !== undefined) out.set(A.GEN_AI_CONVERSATION_ID, facts.conversationId);
  if (facts.inputMessages !== undefined) out.set(A.GEN_AI_INPUT_MESSAGES, facts.inputMessages);
}

/**
 * The conversation id: a session id the client gave explicitly (the session header, then
 * `prompt_cache_key` or `user`, as the router reads them); a request without one has none: the
 * prompt-prefix key is a hash of user text and never leaves the router.
 */
export function conversationIdOf(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  json: Readonly<Record<string, unknown>> | undefined,
  sources: ConversationSources,
): string | undefined {
  if (sources.header !== null) {
    const raw = headers[sources.header];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value === 'string' && value.trim() !== '') return value;
  }
  if (json === undefined) return undefined;
  for (const field of sources.bodyFields) {
    const value = json[field];
    if (typeof value === 'string' && value.trim() !== '') return value;
  }
  return undefined;
}

/** The answering attempt's response, written into its attributes: id, model, finish reasons, usage (exact counts only), status, opt-in content. */
export function responseAttributes(facts: RequestSpanFacts, out: AttributeWriter): void {
  if (facts.responseId !== undefined) out.set(A.GEN_AI_RESPONSE_ID, facts.responseId);
  if (facts.responseModel !== undefined) out.set(A.GEN_AI_RESPONSE_MODEL, facts.responseModel);
  if (facts.finishReasons.length > 0) out.set(A.GEN_AI_RESPONSE_FINISH_REASONS, facts.finishReasons);
  const usage = facts.usage;
  if (usage !== undefined) {
    out.set(A.GEN_AI_USAGE_INPUT_TOKENS, usage.input);
    out.set(A.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output);
    if (usage.cachedInput > 0) out.set(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cachedInput);
  }
  if (facts.status !== undefined) out.set(A.HTTP_RESPONSE_STATUS_CODE, facts.status);
  if (facts.outputMessages !== undefined) out.set(A.GEN_AI_OUTPUT_MESSAGES, facts.outputMessages);
}

interface ServerEndpoint {
  readonly address: string;
  readonly port: number;
}

const endpointByReplica = new WeakMap<Replica, ServerEndpoint>();

/** server.address and server.port of a replica, parsed once per replica. */
export function replicaEndpoint(replica: Replica): ServerEndpoint {
  let endpoint = endpointByReplica.get(replica);
  if (endpoint === undefined) {
    const url = new URL(replica.origin);
    const address = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    endpoint = { address, port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
    endpointByReplica.set(replica, endpoint);
  }
  return endpoint;
}

/** error.type of a transport failure that made the gateway try another replica (e.g. ECONNREFUSED). */
export function transportErrorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.name : 'unknown';
}
