import type { ErrorCode } from '../errors/catalogue.js';

/**
 * Maps a transport failure talking to a replica (undici and socket error codes) to our catalogue,
 * the way a reverse proxy would: cannot reach → 502, reached but reset → 502, too slow → 504.
 */
const CODE_BY_TRANSPORT_ERROR: Readonly<Record<string, ErrorCode>> = {
  ECONNREFUSED: 'upstream_unreachable',
  ENOTFOUND: 'upstream_unreachable',
  EAI_AGAIN: 'upstream_unreachable',
  EHOSTUNREACH: 'upstream_unreachable',
  ENETUNREACH: 'upstream_unreachable',
  ECONNRESET: 'upstream_connection_reset',
  EPIPE: 'upstream_connection_reset',
  UND_ERR_SOCKET: 'upstream_connection_reset',
  UND_ERR_CLOSED: 'upstream_connection_reset',
  UND_ERR_CONNECT_TIMEOUT: 'upstream_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'upstream_timeout',
  UND_ERR_BODY_TIMEOUT: 'upstream_timeout',
  ETIMEDOUT: 'upstream_timeout',
};

/**
 * `answered`: the replica's response headers had arrived. A reset after them cut an answer
 * midway, which is not the "closed the connection before it answered" of a reset before them.
 */
export function classifyTransportError(error: unknown, answered: boolean): ErrorCode {
  const code = errorCodeOf(error) ?? errorCodeOf((error as { cause?: unknown } | null)?.cause);
  if (code !== undefined) {
    const mapped = CODE_BY_TRANSPORT_ERROR[code];
    if (mapped === 'upstream_connection_reset' && answered) return 'upstream_stream_interrupted';
    if (mapped !== undefined) return mapped;
  }
  // Anything else (HTTP parse errors, content-length mismatches, …) means the reply was unusable.
  return 'upstream_bad_response';
}

function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Failures that prove the replica never started on the request (or cannot have sent anything):
 * safe to retry elsewhere when no response byte has arrived. A headers timeout is not among
 * them: the replica may be working on it, and a retry would run it twice.
 */
const RETRYABLE_BEFORE_HEADERS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function isRetryableBeforeHeaders(error: unknown): boolean {
  const code = errorCodeOf(error) ?? errorCodeOf((error as { cause?: unknown } | null)?.cause);
  return code !== undefined && RETRYABLE_BEFORE_HEADERS.has(code);
}
