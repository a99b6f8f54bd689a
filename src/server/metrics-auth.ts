import { createHash, timingSafeEqual } from 'node:crypto';
import type { MetricsConfig } from '../telemetry/metrics/config.js';

/**
 * Decides whether an Authorization header may read the metrics endpoints. Both sides are hashed
 * before the comparison, so it takes the same time whatever the lengths and contents.
 */
export function metricsAccessCheck(settings: MetricsConfig): (authorization: string | undefined) => boolean {
  const accepted: Buffer[] = [];
  if (settings.bearerToken !== undefined) accepted.push(digest(`bearer ${settings.bearerToken}`));
  if (settings.basicAuth !== undefined) {
    const credentials = Buffer.from(`${settings.basicAuth.username}:${settings.basicAuth.password}`).toString('base64');
    accepted.push(digest(`basic ${credentials}`));
  }
  if (accepted.length === 0) return () => true;
  return (authorization) => {
    const offered = digest(withLowercaseScheme(authorization ?? ''));
    let allowed = false;
    for (const expected of accepted) allowed = timingSafeEqual(offered, expected) || allowed;
    return allowed;
  };
}

/** Authentication schemes are case-insensitive (RFC 9110 §11.1); credentials are not. */
function withLowercaseScheme(authorization: string): string {
  const space = authorization.indexOf(' ');
  return space < 0 ? authorization : authorization.slice(0, space).toLowerCase() + authorization.slice(space);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Whether the metrics endpoints have credentials of their own (a bearer token or basic auth). */
export function hasMetricsCredentials(settings: MetricsConfig): boolean {
  return settings.bearerToken !== undefined || settings.basicAuth !== undefined;
}
