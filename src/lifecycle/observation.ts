import type { ErrorCode } from '../errors/catalogue.js';
import type { StreamFacts, StreamUsage } from '../streaming/stream-facts.js';
import type { RequestListener } from './request-listener.js';

/**
 * The facts one request leaves behind. Stages write them as they happen (a field write, nothing
 * published per chunk); when the response is over the lifecycle hands the finished observation
 * once to every subscriber (request-lifecycle.ts), so settlement, metrics, statistics, the
 * access log and the spans can never disagree. All times are `performance.now()` milliseconds:
 * monotonic, sub-millisecond, on the gateway's own clock.
 *
 * This folder imports only `errors/` and `streaming/` types: the fact types of other stages are
 * defined here, and those stages import them, so no stage folder and the lifecycle import each other.
 */
export interface RequestObservation {
  readonly requestId: string;
  readonly method: string;
  /** The route pattern (e.g. /v1/chat/completions), never the raw URL with its query string. */
  route: string;
  /** Arrival at the gateway: the first hook of the request. */
  readonly receivedAt: number;

  /** The API key's id and tenant once auth accepted it (never the key itself). */
  keyId: string | undefined;
  tenant: string | undefined;
  /** What the rate limiter decided, and how long its store took (undefined: limits not applied). */
  rateLimit: RateLimitFacts | undefined;

  /** The model the client asked for, as sent. */
  requestedModel: string | undefined;
  stream: boolean;
  /** The parsed request body, kept only to estimate prompt tokens if no usage ever arrives. */
  requestJson: unknown;
  /** What the guardrails did (undefined: nothing, or none configured). */
  guardrails: readonly GuardrailAction[] | undefined;
  /** What overload control decided (undefined: off, or the model is not served). */
  overload: OverloadFacts | undefined;
  /** The gateway added stream_options.include_usage; the tap removes the usage frame again. */
  streamUsageRequested: boolean;

  /** Name of the replica that answered (the last one tried). */
  replica: string | undefined;
  /** How the router chose the first replica (affinity, overflow, least_loaded, no_key, round_robin). */
  routingOutcome: string | undefined;
  /** Where the session key came from (header, prompt_cache_key, user, prefix), if there was one. */
  sessionKeySource: string | undefined;
  /** Replicas tried after the first one failed before answering. */
  failovers: number;
  /** When the request was handed to the upstream connection pool. */
  dispatchedAt: number | undefined;
  /** When the replica's response headers arrived. */
  upstreamHeadersAt: number | undefined;
  /** When the first response body byte was written to the client. */
  firstByteWrittenAt: number | undefined;
  /** When the chunk completing the first content-bearing event was written to the client. */
  firstContentWrittenAt: number | undefined;
  /** When the chunk with the last content-bearing event was written to the client. */
  lastContentWrittenAt: number | undefined;
  /** Time spent between receiving upstream chunks and handing them to the client socket. */
  relayDelayMs: number;
  /** When the exchange ended, however it ended. */
  completedAt: number | undefined;
  /** This request's share of its replica's busy time (for replica-hour pricing). */
  replicaBusyShareMs: number;

  /** What the stream tap learned (SSE responses only). */
  streamFacts: StreamFacts | undefined;
  /** Usage read from a non-streamed JSON body. */
  bodyUsage: StreamUsage | undefined;

  status: number | undefined;
  responseBytes: number;
  /** The client closed its connection before the response was complete. */
  clientDisconnected: boolean;
  /** Why the gateway failed the request, or interrupted the stream, if it did. */
  errorCode: ErrorCode | undefined;
  /** The drain deadline ended the response (it was still being answered when the gateway stopped). */
  drained: boolean;
  /**
   * Counted in the JSON statistics (GET /api/v1/metrics). False on the admin listener and for the
   * probe and scrape routes (request-hooks.ts): a monitoring loop or a liveness probe must not
   * count itself as traffic (it keeps its access-log line and Prometheus series).
   */
  inStatistics: boolean;

  /** W3C trace id of the request's SERVER span (32 hex), when tracing is on: exemplars, logs, error bodies. */
  traceId: string | undefined;
  /** Span id of the request's SERVER span (16 hex), when tracing is on. */
  spanId: string | undefined;
  /**
   * What tracing does while the request runs (upstream attempts, the request's context, the
   * `traceresponse` header), set by tracing when the request starts; undefined when tracing is off.
   */
  trace: RequestListener | undefined;
}

/** What a guardrail did to a request (guardrails/stage.ts): the rule (a deny pattern's name, max_prompt_tokens, pii) and the action. */
export interface GuardrailAction {
  readonly rule: string;
  readonly action: 'rejected' | 'flagged' | 'masked';
}

/** What overload control decided for the request (overload/stage.ts). */
export interface OverloadFacts {
  /** The request's priority class (one of overload/config.ts PRIORITY_CLASSES). */
  readonly priority: string;
  /** The model's load level when the request was judged (one of overload/config.ts OVERLOAD_LEVELS). */
  readonly level: string;
  /** What overload control finally did: let it through as sent, clamp its max_tokens, or shed it. */
  readonly action: 'admitted' | 'clamped' | 'shed';
  /** The ceiling max_tokens was brought down to, when clamped. */
  readonly clampedTo: number | undefined;
  /** Time held in the gateway queue (undefined: not queued). */
  readonly queuedMs: number | undefined;
}

export interface RateLimitFacts {
  /** admitted; limited (429); unavailable (store down under fail-closed: 503). */
  readonly outcome: 'admitted' | 'limited' | 'unavailable';
  /** Which limit refused the request: requests, tokens, concurrency or budget. */
  readonly limitedBy: string | undefined;
  /** Where the decision was made: memory, redis, or local (Redis down, failing open). */
  readonly store: 'memory' | 'redis' | 'local';
  /** Tokens reserved before dispatch (prompt estimate + max_tokens). */
  readonly reservedTokens: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

export function createObservation(requestId: string, method: string, route: string, receivedAt: number): RequestObservation {
  return {
    requestId,
    method,
    route,
    receivedAt,
    keyId: undefined,
    tenant: undefined,
    rateLimit: undefined,
    requestedModel: undefined,
    stream: false,
    requestJson: undefined,
    guardrails: undefined,
    overload: undefined,
    streamUsageRequested: false,
    replica: undefined,
    routingOutcome: undefined,
    sessionKeySource: undefined,
    failovers: 0,
    dispatchedAt: undefined,
    upstreamHeadersAt: undefined,
    firstByteWrittenAt: undefined,
    firstContentWrittenAt: undefined,
    lastContentWrittenAt: undefined,
    relayDelayMs: 0,
    completedAt: undefined,
    replicaBusyShareMs: 0,
    streamFacts: undefined,
    bodyUsage: undefined,
    status: undefined,
    responseBytes: 0,
    clientDisconnected: false,
    errorCode: undefined,
    drained: false,
    inStatistics: true,
    traceId: undefined,
    spanId: undefined,
    trace: undefined,
  };
}
