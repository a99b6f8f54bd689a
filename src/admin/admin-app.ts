import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CapacityConfig } from '../analytics/capacity/config.js';
import { registerCapacityEndpoint } from '../analytics/capacity/endpoint.js';
import type { Alert, OverloadFigures } from '../telemetry/stats/snapshot.js';
import type { BudgetReport } from '../ratelimit/budget-report.js';
import { registerAnomaliesEndpoint } from '../analytics/anomaly/endpoint.js';
import type { AnomaliesApiResponse } from '../analytics/anomaly/report.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TollboothConfig } from '../config/schema.js';
import type { ReplicaRegistry } from '../routing/registry.js';
import { installErrorHandling } from '../server/error-handler.js';
import { metricsSnapshotSource, registerMetricsEndpoints } from '../server/metrics-endpoints.js';
import { registerProbeRoutes } from '../server/operations.js';
import { requestIdOf } from '../server/request-id.js';
import { openRequestLifecycle } from '../lifecycle/request-hooks.js';
import type { RequestLifecycle } from '../lifecycle/request-lifecycle.js';
import type { RequestStatistics } from '../telemetry/stats/request-statistics.js';
import type { InternalErrors } from '../errors/internal-errors.js';
import { registerDashboard } from './dashboard-routes.js';
import { registerKeysApi, type KeysApiDependencies } from './keys-api.js';
import { adminOpenApiDocument } from './openapi.js';
import type { AdminTlsConfig } from '../config/admin-tls.js';
import { adminHttpsOptions } from './tls.js';
import { registerUsageApi, type UsageApiDependencies } from './usage-api.js';

export interface AdminDependencies {
  readonly metrics: TollboothConfig['metrics'];
  readonly log: Logger;
  /** The gateway's request lifecycle: a scrape gets its access-log line and request id as on the API port. */
  readonly lifecycle: RequestLifecycle;
  readonly metricsRegistry: Registry;
  readonly statistics: RequestStatistics;
  readonly fleet: ReplicaRegistry;
  /** The firing built-in alerts for the JSON. */
  readonly alerts?: (() => readonly Alert[]) | undefined;
  /** The budgets' latest report for GET /api/v1/budgets (absent without auth). */
  readonly budgets?: (() => BudgetReport | undefined) | undefined;
  /** Overload control's state per model for the JSON (absent when it is off). */
  readonly overload?: (() => OverloadFigures) | undefined;
  /** Guards the live dashboard's once-a-second stream. */
  readonly internalErrors: InternalErrors;
  /** The admin API (keys): served only when admin tokens or a client CA (tls.ca) are configured. */
  readonly keysApi?: Omit<KeysApiDependencies, 'log'> | undefined;
  /** The admin API's usage route, served with the keys routes. */
  readonly usageApi?: Omit<UsageApiDependencies, 'tokens'> | undefined;
  /** admin.tls: HTTPS, and with a CA, client certificates as admin identities. */
  readonly tls?: AdminTlsConfig | undefined;
  /** GET /api/v1/anomalies (src/analytics/anomaly/); absent when anomaly detection is off. */
  readonly anomalies?: ((nowMs: number) => AnomaliesApiResponse) | undefined;
  /** GET /api/v1/capacity (needs the metrics' statistics); absent: not served. */
  readonly capacity?: CapacityConfig | undefined;
}

/**
 * The admin listener (envoy's admin port): /metrics, /metrics/prometheus, /api/v1/metrics,
 * /api/v1/budgets, /api/v1/anomalies, /api/v1/capacity, the live dashboard (/dashboard and its
 * stream /api/v1/metrics/stream), /ready with the replica details and /health, and with admin
 * tokens or client certificates (admin.tls) the admin API (/api/v1/keys, /api/v1/usage, described
 * at /api/v1/openapi.json), on their own address, over HTTPS when admin.tls is set,
 * sharing the gateway's registry,
 * statistics and fleet. A second fastify instance rather than a bare http server: the same routes,
 * error envelope (404 unknown_url, 401 metrics_unauthorized), request ids and close semantics as the
 * API port, with no second implementation of any of them.
 */
export function buildAdminApp(dependencies: AdminDependencies): FastifyInstance {
  const { metrics, log, lifecycle, metricsRegistry, statistics, fleet } = dependencies;
  const admin: FastifyInstance = Fastify({
    ...(dependencies.tls === undefined ? {} : { https: adminHttpsOptions(dependencies.tls) }),
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger) => logger,
    genReqId: requestIdOf,
    // Closed last, once the API has drained: every connection is cut then, so a client holding an
    // admin connection open (a half-sent request) cannot keep the process from exiting.
    forceCloseConnections: true,
  });
  // Its requests (scrapes, readiness) are logged and metered, but are not traffic in /api/v1/metrics.
  openRequestLifecycle(admin, lifecycle, { inStatistics: false });
  installErrorHandling(admin);
  registerProbeRoutes(admin, fleet, { replicaDetails: true });
  if (metrics.enabled) {
    const { alerts, overload, budgets } = dependencies;
    registerMetricsEndpoints(admin, { settings: metrics, registry: metricsRegistry, statistics, fleet, alerts, budgets, overload });
    registerDashboard(admin, { settings: metrics, snapshot: metricsSnapshotSource({ statistics, fleet, alerts, overload }), internalErrors: dependencies.internalErrors });
  }
  if (metrics.enabled && dependencies.anomalies !== undefined) registerAnomaliesEndpoint(admin, metrics, dependencies.anomalies);
  if (metrics.enabled && dependencies.capacity?.enabled === true) {
    registerCapacityEndpoint(admin, { metrics, capacity: dependencies.capacity, statistics, fleet });
  }
  const keysApi = dependencies.keysApi;
  if (keysApi !== undefined && (keysApi.tokens.length > 0 || dependencies.tls?.ca !== undefined)) {
    const document = adminOpenApiDocument();
    admin.get('/api/v1/openapi.json', async () => document);
    registerKeysApi(admin, { ...keysApi, log });
    if (dependencies.usageApi !== undefined) registerUsageApi(admin, { ...dependencies.usageApi, tokens: keysApi.tokens });
  }
  return admin;
}
