import { INFERENCE_ENDPOINTS } from '../../proxy/endpoints.js';

/** Span names and the attribute values that need more than a read of the observation. */

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

/** Where the conversation id may come from: the session header and body fields, never a prompt prefix. */
export interface ConversationSources {
  readonly header: string | null;
  readonly bodyFields: readonly string[];
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

interface ServerEndpoint {
  readonly address: string;
  readonly port: number;
}

/** Where a replica listens (routing/replica.ts `Replica` is one). */
interface ReplicaOrigin {
  readonly origin: string;
}

const endpointByReplica = new WeakMap<ReplicaOrigin, ServerEndpoint>();

/** server.address and server.port of a replica, parsed once per replica. */
export function replicaEndpoint(replica: ReplicaOrigin): ServerEndpoint {
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
