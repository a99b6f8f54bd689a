import type { FastifyRequest } from 'fastify';
import type { InferenceEndpoint } from '../proxy/endpoints.js';
import { resolveRoutingFields, type RequestBody, type RoutingFields } from '../proxy/request-body.js';

/** What the request-schema stage learned about a proxied request; the later stages read it. */
export interface InferenceRequest {
  /** The inference endpoint, or undefined for a /v1/* pass-through path. */
  readonly endpoint: InferenceEndpoint | undefined;
  readonly body: RequestBody | undefined;
  readonly fields: RoutingFields;
}

declare module 'fastify' {
  interface FastifyRequest {
    inference: InferenceRequest;
  }
}

/**
 * The request-schema stage (a preHandler of every proxied route): model and stream from the
 * body, or the 400/415 that explains why the request cannot be routed. Runs before the model
 * allow-list and the rate limits, which both need the model.
 */
export function describeInferenceRequest(request: FastifyRequest, endpoint: InferenceEndpoint | undefined): void {
  const body = request.body as RequestBody | undefined;
  const fields = resolveRoutingFields(endpoint, body, request.headers['content-type']);
  const observation = request.observation;
  observation.requestedModel = fields.model;
  observation.stream = fields.stream;
  observation.requestJson = body?.json;
  request.inference = { endpoint, body, fields };
}
