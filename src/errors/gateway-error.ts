import { ERROR_CATALOGUE, type ErrorCode, type OpenAiErrorBody } from './catalogue.js';

/** A failure with a catalogued code. Thrown by any stage; one error handler turns it into a response. */
export class GatewayError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly param: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message ?? ERROR_CATALOGUE[code].message, options);
    this.name = 'GatewayError';
    this.status = ERROR_CATALOGUE[code].status;
  }

  /** The OpenAI envelope; with a trace id (tracing on), `error.trace_id` names the request's trace. */
  toBody(traceId?: string): OpenAiErrorBody {
    return withTraceId({ error: { message: this.message, type: ERROR_CATALOGUE[this.code].type, param: this.param, code: this.code } }, traceId);
  }
}

/**
 * An error body naming the request's trace: `error.trace_id`, an extra field the OpenAI SDKs
 * ignore (the envelope keeps its four fields), so a user can quote it and an operator open the trace.
 */
export function withTraceId(body: OpenAiErrorBody, traceId: string | undefined): OpenAiErrorBody {
  if (traceId === undefined) return body;
  const error: OpenAiErrorBody['error'] & { trace_id: string } = { ...body.error, trace_id: traceId };
  return { error };
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

/** The 404 of a path the gateway does not serve (no route, or not on the pass-through list), naming it as OpenAI does. */
export function unknownUrl(request: { readonly method: string; readonly url: string }): GatewayError {
  return new GatewayError('unknown_url', `Invalid URL (${request.method} ${request.url.split('?', 1)[0]})`);
}
