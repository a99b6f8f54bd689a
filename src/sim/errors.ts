import type { SimulatorOptions } from './options.js';

export type ErrorStyle = SimulatorOptions['errorStyle'];

/** vLLM's error `type` per status, as its create_error_response uses them. */
export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequestError';
    case 401:
      return 'UnauthorizedError';
    case 404:
      return 'NotFoundError';
    case 429:
      return 'TooManyRequestsError';
    case 503:
      return 'ServiceUnavailableError';
    default:
      return status >= 500 ? 'InternalServerError' : 'BadRequestError';
  }
}

/** The error object itself: current vLLM nests it, older vLLM (legacy) flattened it with `object`. */
function errorObject(style: ErrorStyle, message: string, status: number, param: string | null): object {
  const type = errorTypeForStatus(status);
  return style === 'legacy'
    ? { object: 'error', message, type, param, code: status }
    : { message, type, param, code: status };
}

/** Body of an HTTP error response in vLLM's shape for the configured style. */
export function errorBody(style: ErrorStyle, message: string, status: number, param: string | null = null): string {
  const inner = errorObject(style, message, status, param);
  return JSON.stringify(style === 'legacy' ? inner : { error: inner });
}

/** In-band SSE error payload: vLLM always wraps it in `{"error": ...}`. */
export function streamErrorFrame(style: ErrorStyle, message: string, status: number): string {
  return `data: ${JSON.stringify({ error: errorObject(style, message, status, null) })}\n\n`;
}

/** vLLM's `--api-key` middleware answers exactly this. */
export const UNAUTHORIZED_BODY = '{"error":"Unauthorized"}';

/** FastAPI's default bodies for unrouted paths and wrong methods. */
export const NOT_FOUND_BODY = '{"detail":"Not Found"}';
export const METHOD_NOT_ALLOWED_BODY = '{"detail":"Method Not Allowed"}';

/** Thrown by request parsing; turned into an error response by the router. */
export class SimRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export function modelNotFound(model: string): SimRequestError {
  return new SimRequestError(404, `The model \`${model}\` does not exist.`, 'model');
}
