import type { ErrorCode } from '../errors/catalogue.js';

/**
 * The facts one request leaves behind. Stages write them as they happen; telemetry reads the
 * finished observation once (access log now; metrics, spans and cost later), so those outputs
 * can never disagree. All times are `performance.now()` milliseconds: monotonic, sub-millisecond.
 */
export interface RequestObservation {
  readonly requestId: string;
  readonly method: string;
  /** The route pattern (e.g. /v1/chat/completions), never the raw URL with its query string. */
  route: string;
  readonly receivedAt: number;

  /** The model the client asked for, as sent. */
  requestedModel: string | undefined;
  stream: boolean;

  /** Name of the replica the request was sent to. */
  replica: string | undefined;
  /** When the request was handed to the upstream connection pool. */
  dispatchedAt: number | undefined;
  /** When the replica's response headers arrived. */
  upstreamHeadersAt: number | undefined;
  /** When the first response body byte was written to the client. */
  firstByteWrittenAt: number | undefined;
  /** When the exchange ended, however it ended. */
  completedAt: number | undefined;

  status: number | undefined;
  responseBytes: number;
  /** The client closed its connection before the response was complete. */
  clientDisconnected: boolean;
  /** Why the gateway failed the request, or interrupted the stream, if it did. */
  errorCode: ErrorCode | undefined;
}

export function createObservation(requestId: string, method: string, route: string, receivedAt: number): RequestObservation {
  return {
    requestId,
    method,
    route,
    receivedAt,
    requestedModel: undefined,
    stream: false,
    replica: undefined,
    dispatchedAt: undefined,
    upstreamHeadersAt: undefined,
    firstByteWrittenAt: undefined,
    completedAt: undefined,
    status: undefined,
    responseBytes: 0,
    clientDisconnected: false,
    errorCode: undefined,
  };
}
