import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { MetricsConfig } from '../telemetry/metrics/config.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { ReplicaRegistry } from '../routing/registry.js';
import type { Replica } from '../routing/replica.js';
import { contentTypeOf, negotiateExposition, renderExposition } from '../telemetry/metrics/exposition.js';
import type { RequestStatistics } from '../telemetry/stats/request-statistics.js';
import type { Alert, MetricsApiResponse, OverloadFigures, ReplicaFiguresInput } from '../telemetry/stats/snapshot.js';
import type { BudgetReport } from '../ratelimit/budget-report.js';
import { metricsAccessCheck } from './metrics-auth.js';

/**
 * GET /metrics and its alias /metrics/prometheus (Prometheus text, or OpenMetrics with exemplars
 * when the scraper asks for `application/openmetrics-text`), GET /api/v1/metrics (the same story as JSON,
 * over a sliding window and since start) and GET /api/v1/budgets (every budgeted key and tenant:
 * spend, caps and forecasts), behind the optional metrics credentials.
 */
export function registerMetricsEndpoints(
  app: FastifyInstance,
  dependencies: {
    readonly settings: MetricsConfig;
    readonly registry: Registry;
    readonly statistics: RequestStatistics;
    readonly fleet: ReplicaRegistry;
    /** The firing built-in alerts, shown in the JSON (none without them). */
    readonly alerts?: (() => readonly Alert[]) | undefined;
    /** The budgets' latest report; without it (no auth) /api/v1/budgets is not served. */
    readonly budgets?: (() => BudgetReport | undefined) | undefined;
    /** Overload control's state per model (absent when it is off). */
    readonly overload?: (() => OverloadFigures) | undefined;
  },
): void {
  const { registry } = dependencies;
  const guard = metricsGuard(dependencies.settings);
  const snapshotNow = metricsSnapshotSource(dependencies);

  // /metrics/prometheus: the same exposition under the name some scrapers are configured with.
  for (const path of ['/metrics', '/metrics/prometheus']) {
    app.get(path, async (request, reply) => {
      guard(request.headers.authorization);
      const format = negotiateExposition(request.headers.accept);
      void reply.header('content-type', contentTypeOf(format)).header('vary', 'accept');
      return renderExposition(registry, format);
    });
  }

  app.get('/api/v1/metrics', async (request) => {
    guard(request.headers.authorization);
    return snapshotNow();
  });

  const budgets = dependencies.budgets;
  if (budgets !== undefined) {
    // Before the first read of the store, and while no key has a budget, there is nothing to show.
    app.get('/api/v1/budgets', async (request) => {
      guard(request.headers.authorization);
      return budgets() ?? null;
    });
  }
}

/** Throws metrics_unauthorized (401) unless the Authorization header may read the metrics. */
export function metricsGuard(settings: MetricsConfig): (authorization: string | undefined) => void {
  const mayRead = metricsAccessCheck(settings);
  return (authorization) => {
    if (!mayRead(authorization)) throw new GatewayError('metrics_unauthorized');
  };
}

/** The JSON of GET /api/v1/metrics now: the statistics with the fleet's live figures and the firing alerts. */
export function metricsSnapshotSource(dependencies: {
  readonly statistics: RequestStatistics;
  readonly fleet: ReplicaRegistry;
  readonly alerts?: (() => readonly Alert[]) | undefined;
  readonly overload?: (() => OverloadFigures) | undefined;
}): () => MetricsApiResponse {
  const { statistics, fleet, alerts, overload } = dependencies;
  return () => {
    const snapshot = statistics.snapshot(Date.now(), fleet.replicas.map(replicaFigures), alerts?.() ?? []);
    return overload === undefined ? snapshot : { ...snapshot, overload: overload() };
  };
}

/**
 * A replica's live figures for the JSON. Before, the endpoint passed none, so `replica_engine` was
 * always {}: the engine figures the fleet monitor scrapes were only read by the Prometheus gauges
 * and the router. Stale figures are already dropped by the fleet monitor (undefined here).
 */
export function replicaFigures(replica: Replica): ReplicaFiguresInput {
  const stats = replica.engineStats;
  return {
    name: replica.name,
    health: replica.health,
    inFlight: replica.inFlight,
    engine:
      stats === undefined
        ? undefined
        : {
            waiting: stats.waiting,
            running: stats.running,
            kvCacheUsage: stats.kvCacheUsage,
            prefixCacheQueries: stats.prefixCacheQueries,
            prefixCacheHits: stats.prefixCacheHits,
            prefixCacheHitRatio: replica.prefixCacheHitRatio,
          },
    gpus: replica.gpuStats?.gpus,
  };
}
