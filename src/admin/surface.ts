import type { TollboothConfig } from '../config/schema.js';
import { hasMetricsCredentials } from '../server/metrics-auth.js';

/**
 * Where the admin surface (metrics, JSON statistics, readiness details) is served. The admin
 * listener always serves it (behind the metrics credentials when they are set); the API port, which
 * faces clients, only when credentials are set, so an unconfigured gateway never shows its
 * per-tenant figures to whoever can reach its API.
 */
export function metricsOnApiPort(config: Pick<TollboothConfig, 'metrics'>): boolean {
  return config.metrics.enabled && hasMetricsCredentials(config.metrics);
}

/**
 * Configurations that are valid but probably not meant, said at boot and by check-config. Metrics
 * collected but served nowhere is a warning rather than an error: metrics.enabled also feeds the
 * access log's tokens and costs, which such a gateway may still want.
 */
export function adminSurfaceWarnings(config: Pick<TollboothConfig, 'metrics' | 'admin'>): string[] {
  if (config.admin.enabled) return [];
  const warnings: string[] = [];
  if (config.metrics.enabled && !metricsOnApiPort(config)) {
    warnings.push(
      'admin.enabled is false and no metrics credentials are set: /metrics and /api/v1/metrics are served nowhere. Enable the admin listener, or set metrics.bearerToken or metrics.basicAuth to serve them on the API port.',
    );
  }
  if (config.admin.tokens.length > 0) warnings.push('admin.tokens are set but admin.enabled is false: the admin API (/api/v1/keys, /api/v1/usage) is served nowhere.');
  if (config.admin.tls !== undefined) warnings.push('admin.tls is set but admin.enabled is false: the admin listener it secures does not exist.');
  return warnings;
}
