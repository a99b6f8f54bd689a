import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { AdminTlsConfig } from '../config/admin-tls.js';

/**
 * The HTTPS options of the admin listener. With a CA, clients are asked for a certificate: when it
 * is required the handshake refuses a client without one (or with one from another CA); when it is
 * not, an unverified or absent certificate leaves the bearer token as the way in.
 */
export function adminHttpsOptions(tls: AdminTlsConfig): TlsOptions & SecureContextOptions {
  const base = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
  if (tls.ca === undefined) return base;
  return { ...base, ca: readFileSync(tls.ca), requestCert: true, rejectUnauthorized: tls.requireClientCertificate };
}
