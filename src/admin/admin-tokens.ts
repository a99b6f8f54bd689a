import { createHash, timingSafeEqual } from 'node:crypto';
import type { TollboothConfig } from '../config/schema.js';

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
