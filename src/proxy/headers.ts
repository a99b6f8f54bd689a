import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * The two header seams of the proxy. Hop-by-hop headers (RFC 9110 §7.6.1) belong to one
 * connection and never cross the gateway; everything else passes untouched.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Request headers set by the gateway itself rather than copied from the client. */
const SET_BY_GATEWAY = new Set(['host', 'content-length', 'expect', 'x-request-id']);

/** Where clients present Tollbooth API keys (src/auth/extract.ts): a gateway key never reaches a replica. */
const CLIENT_CREDENTIALS = new Set(['authorization', 'x-api-key', 'api-key']);

export interface UpstreamRequestContext {
  readonly requestId: string;
  readonly bodyLength: number | undefined;
  /** Replaces the client's Authorization header (vLLM --api-key). */
  readonly replicaApiKey: string | undefined;
  /** The gateway checked the client's key itself: drop it instead of passing it on. */
  readonly stripClientCredentials: boolean;
}

export function rewriteRequestHeaders(
  incoming: IncomingHttpHeaders,
  context: UpstreamRequestContext,
): Record<string, string | string[]> {
  const named = namedInConnection(incoming.connection);
  const outgoing: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || SET_BY_GATEWAY.has(name) || named?.has(name)) continue;
    if (context.stripClientCredentials && CLIENT_CREDENTIALS.has(name)) continue;
    outgoing[name] = value;
  }
  outgoing['x-request-id'] = context.requestId;
  if (context.bodyLength !== undefined) outgoing['content-length'] = String(context.bodyLength);
  if (context.replicaApiKey !== undefined) outgoing.authorization = `Bearer ${context.replicaApiKey}`;
  return outgoing;
}

export function rewriteResponseHeaders(
  upstream: Readonly<Record<string, string | string[] | undefined>>,
  requestId: string,
): OutgoingHttpHeaders {
  const connection = upstream.connection;
  const named = namedInConnection(typeof connection === 'string' ? connection : connection?.join(','));
  const outgoing: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue;
    outgoing[name] = value;
  }
  // The gateway's id wins: it is the one in our logs, and the replica received it as X-Request-Id.
  outgoing['x-request-id'] = requestId;
  return outgoing;
}

function namedInConnection(connection: string | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const names = connection
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'close' && name !== 'keep-alive');
  return names.length === 0 ? undefined : new Set(names);
}
