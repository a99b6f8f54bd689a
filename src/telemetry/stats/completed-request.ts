/**
 * One finished request, as the statistics see it. The caller derives it from the request's
 * observation when the response closes; every string here is a bounded label value (unknown
 * models are collapsed by the caller, replica names come from the configuration).
 */
export interface CompletedRequest {
  readonly model: string;
  /** null when the request never reached a replica (it is then absent from `by_replica`). */
  readonly replica: string | null;
  /** The tenant label (a declared tenant, "other" for undeclared ones, "none" without a key): bounded. */
  readonly tenant: string;
  /** How the router chose the first replica (affinity, overflow, least_loaded, no_key, round_robin); null when not routed. */
  readonly routingOutcome: string | null;
  /** Wall clock (Date.now()) when it ended: places it in a time slot. */
  readonly endedAtMs: number;
  readonly success: boolean;
  /** e.g. 'upstream_timeout', 'invalid_json', 'upstream_4xx', 'client_disconnected'; null on success. */
  readonly errorType: string | null;
  /** End to end, in milliseconds. */
  readonly latencyMs: number;
  /** Successful streams only. */
  readonly ttftMs: number | null;
  /** Successful streams with at least two output tokens. */
  readonly decodeTokensPerSecond: number | null;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  readonly tokensEstimated: boolean;
  /** Integer nano-units (1e-9) of the cost currency. */
  readonly costNanos: bigint;
}
