import type { RequestObservation } from './observation.js';

/** The fields of the one JSON access-log line a request leaves (snake_case, like the rest of the log). */
export function accessLogRecord(observation: RequestObservation): Record<string, unknown> {
  const end = observation.completedAt ?? observation.receivedAt;
  return {
    request_id: observation.requestId,
    method: observation.method,
    route: observation.route,
    model: observation.requestedModel ?? null,
    replica: observation.replica ?? null,
    status: observation.status ?? null,
    stream: observation.stream,
    duration_ms: roundMs(end - observation.receivedAt),
    upstream_headers_ms:
      observation.upstreamHeadersAt === undefined || observation.dispatchedAt === undefined
        ? null
        : roundMs(observation.upstreamHeadersAt - observation.dispatchedAt),
    bytes: observation.responseBytes,
    client_disconnected: observation.clientDisconnected,
    error_code: observation.errorCode ?? null,
  };
}

function roundMs(value: number): number {
  return Math.round(value * 1000) / 1000;
}
