/**
 * Span attribute names, copied once from the OpenTelemetry semantic conventions (GenAI names
 * from open-telemetry/semantic-conventions-genai, still "Development", so not imported from an
 * incubating package whose constants may move) plus Tollbooth's own `tollbooth.*` facts.
 */

// GenAI (client span of an inference call)
export const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
export const GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id';
/** Opt-in content (tracing.captureContent), as JSON text. */
export const GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
export const GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';

/**
 * The upstream is a vLLM server, so the provider is `vllm` (not `openai`: the API shape is
 * OpenAI's but the model runs on the operator's vLLM fleet, and dashboards grouping by
 * provider must not mix self-hosted traffic with calls to OpenAI's service).
 */
export const PROVIDER_VLLM = 'vllm';

// Server, HTTP and errors (stable conventions)
export const SERVER_ADDRESS = 'server.address';
export const SERVER_PORT = 'server.port';
export const ERROR_TYPE = 'error.type';
export const HTTP_REQUEST_METHOD = 'http.request.method';
export const HTTP_ROUTE = 'http.route';
export const HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';

// Tollbooth's own facts
export const REQUEST_ID = 'tollbooth.request_id';
export const ROUTING_OUTCOME = 'tollbooth.routing.outcome';
export const ROUTING_REPLICA = 'tollbooth.routing.replica';
export const ROUTING_FAILOVERS = 'tollbooth.routing.failovers';
export const ROUTING_ATTEMPT = 'tollbooth.routing.attempt';
export const SESSION_KEY_SOURCE = 'tollbooth.session_key.source';
export const API_KEY_ID = 'tollbooth.api_key.id';
export const TENANT = 'tollbooth.tenant';
export const RATE_LIMIT_OUTCOME = 'tollbooth.rate_limit.outcome';
export const RATE_LIMIT_LIMITED_BY = 'tollbooth.rate_limit.limited_by';
export const RATE_LIMIT_STORE = 'tollbooth.rate_limit.store';
export const RATE_LIMIT_RESERVED_TOKENS = 'tollbooth.rate_limit.reserved_tokens';
export const OUTCOME = 'tollbooth.outcome';
export const OVERHEAD_MS = 'tollbooth.overhead_ms';

/** The first content token: an event on the answering attempt's span, at the moment it was written to the client. */
export const FIRST_TOKEN_EVENT = 'gen_ai.first_token';
/** Arrival at Tollbooth → first content written to the client (the TTFT histogram's value). */
export const TTFT_MS = 'tollbooth.ttft_ms';
/** Dispatch to the replica → first content received from it. */
export const UPSTREAM_TTFT_MS = 'tollbooth.upstream_ttft_ms';

export const RATE_LIMIT_SPAN = 'rate_limit';
