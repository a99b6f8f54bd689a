import { formatNanos } from '../cost/cost.js';
import type { RequestCost } from '../cost/price-book.js';
import type { RequestMeasures } from './measures.js';
import type { RequestObservation } from './observation.js';

/** The fields of the one JSON access-log line a request leaves (snake_case, like the rest of the log). */
export function accessLogRecord(
  observation: RequestObservation,
  measures: RequestMeasures,
  cost: RequestCost,
  currency: string,
): Record<string, unknown> {
  return {
    request_id: observation.requestId,
    method: observation.method,
    route: observation.route,
    key_id: observation.keyId ?? null,
    tenant: observation.tenant ?? null,
    model: observation.requestedModel ?? null,
    replica: observation.replica ?? null,
    routing: observation.routingOutcome ?? null,
    session_key: observation.sessionKeySource ?? null,
    failovers: observation.failovers,
    status: observation.status ?? null,
    stream: observation.stream,
    outcome: measures.outcome,
    duration_ms: roundMs(measures.endToEndMs),
    ttft_ms: optionalMs(measures.ttftMs),
    tpot_ms: optionalMs(measures.tpotMs),
    overhead_ms: optionalMs(measures.overheadMs),
    upstream_headers_ms:
      observation.upstreamHeadersAt === undefined || observation.dispatchedAt === undefined
        ? null
        : roundMs(observation.upstreamHeadersAt - observation.dispatchedAt),
    input_tokens: measures.tokens.input,
    cached_input_tokens: measures.tokens.cachedInput,
    output_tokens: measures.tokens.output,
    tokens_source: measures.tokens.source,
    cost: formatNanos(cost.nanos),
    cost_currency: currency,
    cost_basis: cost.basis,
    bytes: observation.responseBytes,
    client_disconnected: observation.clientDisconnected,
    error_code: measures.errorType,
    rate_limit: observation.rateLimit?.outcome ?? null,
    limited_by: observation.rateLimit?.limitedBy ?? null,
    trace_id: observation.traceId ?? null,
    span_id: observation.spanId ?? null,
  };
}

function optionalMs(value: number | undefined): number | null {
  return value === undefined ? null : roundMs(value);
}

function roundMs(value: number): number {
  return Math.round(value * 1000) / 1000;
}
