import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorCode } from '../errors/catalogue.js';
import { GatewayError, isGatewayError, unknownUrl } from '../errors/gateway-error.js';

/** Fastify's own failures (body parsing, limits) mapped to our catalogue. */
const CODE_BY_FASTIFY_ERROR: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'request_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

export function toGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  const code = (error as Partial<FastifyError> | null)?.code;
  const mapped = code === undefined ? undefined : CODE_BY_FASTIFY_ERROR[code];
  if (mapped !== undefined) return new GatewayError(mapped, undefined, null, { cause: error });
  const status = (error as Partial<FastifyError> | null)?.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new GatewayError('invalid_request_body', (error as Error).message, null, { cause: error });
  }
  return new GatewayError('internal_error', undefined, null, { cause: error });
}

/** The one place a thrown error becomes a response: always the OpenAI envelope, never a stack. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const gatewayError = toGatewayError(error);
    request.observation.errorCode = gatewayError.code;
    if (gatewayError.code === 'internal_error') request.log.error({ err: error, request_id: request.id, trace_id: request.observation.traceId }, 'unexpected error while handling a request');
    void reply.code(gatewayError.status).send(gatewayError.toBody(request.observation.traceId));
  });
  // Answered before the body is read: an unknown route has no use for it (and the connection then closes).
  app.addHook('onRequest', (request, _reply, done) => done(request.is404 ? unknownUrl(request) : undefined));
  app.setNotFoundHandler((request) => {
    throw unknownUrl(request);
  });
}
