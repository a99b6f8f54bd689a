import { createHash, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TollboothConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who authorised this admin API call: an admin token's id, or a client certificate's subject CN. */
    adminIdentity?: string;
  }
}

/**
 * The admin API's onRequest hook: a client certificate the listener verified against admin.tls.ca
 * (identity: its subject CN), else one of the admin tokens; neither is 401 admin_unauthorized.
 */
export function adminAuthentication(tokens: TollboothConfig['admin']['tokens']): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const identityOf = adminIdentityCheck(tokens);
  return async (request, reply) => {
    const identity = certificateIdentity(request) ?? identityOf(request.headers.authorization);
    if (identity === undefined) {
      void reply.header('www-authenticate', 'Bearer realm="tollbooth-admin"');
      throw new GatewayError('admin_unauthorized');
    }
    request.adminIdentity = identity;
  };
}

/** The subject CN of a client certificate that the TLS handshake verified; undefined otherwise (plain HTTP, none sent, not trusted). */
export function certificateIdentity(request: FastifyRequest): string | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || socket.getPeerCertificate === undefined) return undefined;
  const commonName = socket.getPeerCertificate().subject?.CN;
  // A repeated CN attribute arrives as an array: ambiguous, so not an identity.
  return typeof commonName === 'string' && commonName.length > 0 ? commonName : undefined;
}

/**
 * Who is calling the admin API: the id of the admin token in `Authorization: Bearer <token>`, or
 * undefined. Every configured token is compared, each as a SHA-256 digest, so the time taken says
 * nothing about which token, or how much of one, was right.
 */
export function adminIdentityCheck(tokens: TollboothConfig['admin']['tokens']): (authorization: string | undefined) => string | undefined {
  const accepted = tokens.map(({ id, token }) => ({ id, digest: digest(token) }));
  return (authorization) => {
    const offered = digest(bearerToken(authorization) ?? '');
    let identity: string | undefined;
    for (const candidate of accepted) if (timingSafeEqual(offered, candidate.digest)) identity = candidate.id;
    return identity;
  };
}

/** The credentials of a Bearer authorization (the scheme is case-insensitive, RFC 9110 §11.1). */
function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization === undefined ? null : /^bearer +(\S+)$/i.exec(authorization);
  return match?.[1];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
