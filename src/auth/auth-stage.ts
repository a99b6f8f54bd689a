import type { onRequestHookHandler, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';
import { extractPresentedKey } from './extract.js';
import type { KeyRing, Principal } from './key-ring.js';
import { mayUseModel } from './model-access.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key (id, tenant, policy) once auth accepted it; undefined with auth off. */
    principal: Principal | undefined;
  }
}

/**
 * The auth stage (onRequest of every proxied route, before the body is read): the presented key
 * becomes a principal, or the request ends with 401 invalid_api_key. Missing, malformed, unknown
 * and revoked keys take the same path and get the same body.
 */
export function authenticate(ring: KeyRing): onRequestHookHandler {
  return (request, _reply, done) => {
    const principal = ring.verify(extractPresentedKey(request.headers));
    if (principal === undefined) return done(new GatewayError('invalid_api_key'));
    request.principal = principal;
    request.observation.keyId = principal.keyId;
    request.observation.tenant = principal.tenant;
    done();
  };
}

/** The model allow-list (after the request schema named the model): 403 model_not_allowed. */
export function authorizeModel(request: FastifyRequest): void {
  const principal = request.principal;
  const model = request.inference.fields.model;
  if (principal === undefined || mayUseModel(principal.policy.models, model)) return;
  if (model === undefined) {
    throw new GatewayError(
      'model_not_allowed',
      `The API key "${principal.keyId}" may use only some models, so the request must name one in "model".`,
      'model',
    );
  }
  throw new GatewayError('model_not_allowed', `The API key "${principal.keyId}" may not use the model "${model}".`, 'model');
}
