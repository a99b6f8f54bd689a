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

  toBody(): OpenAiErrorBody {
    return { error: { message: this.message, type: ERROR_CATALOGUE[this.code].type, param: this.param, code: this.code } };
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}
