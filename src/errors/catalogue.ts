/**
 * Every error Tollbooth itself produces, by stable code. The code is what clients see in
 * `error.code`; status and OpenAI error type travel with it. Never reuse a retired code.
 */
export type OpenAiErrorType = 'invalid_request_error' | 'rate_limit_error' | 'insufficient_quota' | 'server_error';

interface CatalogueEntry {
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly message: string;
}

export const ERROR_CATALOGUE = {
  invalid_json: { status: 400, type: 'invalid_request_error', message: 'The request body is not valid JSON.' },
  invalid_request_body: { status: 400, type: 'invalid_request_error', message: 'The request body is not valid.' },
  missing_model: {
    status: 400,
    type: 'invalid_request_error',
    message: 'You must provide a model parameter.',
  },
  unsupported_media_type: {
    status: 415,
    type: 'invalid_request_error',
    message: 'This endpoint expects a JSON body (Content-Type: application/json).',
  },
  metrics_unauthorized: {
    status: 401,
    type: 'invalid_request_error',
    message: 'The metrics endpoints need the configured bearer token or basic-auth credentials.',
  },
  admin_unauthorized: {
    status: 401,
    type: 'invalid_request_error',
    message: 'The admin API needs one of the admin tokens (admin.tokens) as "Authorization: Bearer <token>".',
  },
  key_not_found: { status: 404, type: 'invalid_request_error', message: 'No API key has this id.' },
  key_exists: { status: 409, type: 'invalid_request_error', message: 'An API key with this id already exists.' },
  key_store_read_only: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The gateway keeps its keys in its configuration only: set auth.keysFile or auth.store: redis to manage keys over the API.',
  },
  key_store_unavailable: { status: 503, type: 'server_error', message: 'The key store cannot be read or written right now; retry shortly.' },
  invalid_usage_query: { status: 400, type: 'invalid_request_error', message: 'The usage query is not valid.' },
  usage_source_not_configured: {
    status: 409,
    type: 'invalid_request_error',
    message: 'This usage source is not configured: counters need auth (keys), source=prometheus needs admin.prometheusUrl.',
  },
  usage_source_unavailable: { status: 503, type: 'server_error', message: 'The usage source cannot be read right now; retry shortly.' },
  // One body for missing, malformed, unknown and revoked keys: the answer must not tell them apart.
  invalid_api_key: {
    status: 401,
    type: 'invalid_request_error',
    message: 'Incorrect or missing API key. Send it as "Authorization: Bearer <key>".',
  },
  model_not_allowed: { status: 403, type: 'invalid_request_error', message: 'This API key may not use this model.' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', message: 'Rate limit reached for this API key.' },
  // OpenAI's code for a spent quota; its clients know a retry cannot help (x-should-retry: false).
  insufficient_quota: { status: 429, type: 'insufficient_quota', message: 'This API key has spent its budget.' },
  rate_limit_store_unavailable: {
    status: 503,
    type: 'server_error',
    message: 'Rate limits cannot be checked right now (the limit store is unreachable); retry shortly.',
  },
  // Overload control (src/overload/): the model's replicas are saturated and this request's class is shed; Retry-After says when.
  overloaded: { status: 503, type: 'server_error', message: 'The model is overloaded; retry later.' },
  // The guardrails (src/guardrails/): refusals the client can act on by changing the prompt.
  prompt_too_long: { status: 400, type: 'invalid_request_error', message: 'The prompt is longer than this gateway accepts.' },
  prompt_rejected: { status: 400, type: 'invalid_request_error', message: "The prompt was refused by the gateway's input checks." },
  request_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large.' },
  // Answers of Node's own HTTP parser and deadlines (server.headersTimeoutMs, requestTimeoutMs, bodyIdleTimeoutMs); the connection closes after them.
  malformed_http_request: { status: 400, type: 'invalid_request_error', message: 'The request is not valid HTTP/1.1.' },
  request_timeout: { status: 408, type: 'invalid_request_error', message: 'The request was not received in time.' },
  request_headers_too_large: { status: 431, type: 'invalid_request_error', message: 'The request headers are too large.' },
  model_not_found: { status: 404, type: 'invalid_request_error', message: 'The model does not exist.' },
  unknown_url: { status: 404, type: 'invalid_request_error', message: 'Unknown request URL.' },
  // A request target two readers (the gateway's router, the replica) could resolve differently.
  invalid_path: { status: 400, type: 'invalid_request_error', message: 'The request path is not valid.' },
  no_replica_available: {
    status: 503,
    type: 'server_error',
    message: 'No healthy replica is available for this model right now.',
  },
  shutting_down: { status: 503, type: 'server_error', message: 'The gateway is shutting down; retry on another instance.' },
  upstream_unreachable: { status: 502, type: 'server_error', message: 'The replica could not be reached.' },
  upstream_connection_reset: {
    status: 502,
    type: 'server_error',
    message: 'The replica closed the connection before it answered.',
  },
  upstream_bad_response: { status: 502, type: 'server_error', message: 'The replica sent an invalid response.' },
  upstream_timeout: { status: 504, type: 'server_error', message: 'The replica did not answer in time.' },
  upstream_stream_interrupted: {
    status: 502,
    type: 'server_error',
    message: 'The replica stopped the stream before it was complete.',
  },
  internal_error: { status: 500, type: 'server_error', message: 'The gateway failed to process the request.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The OpenAI error body: `{"error":{"message","type","param","code"}}`. */
export interface OpenAiErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

/** OpenAI's error type for an HTTP status that did not come from our catalogue (e.g. a replica's). */
export function errorTypeForStatus(status: number): OpenAiErrorType {
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}
