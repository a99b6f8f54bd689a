import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { TollboothConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { ReplicaRegistry } from '../routing/registry.js';
import type { RequestStatistics } from '../telemetry/stats/request-statistics.js';
import { metricsAccessCheck } from './metrics-auth.js';

/**
 * GET /metrics (Prometheus text exposition) and GET /api/v1/metrics (the same story as JSON,
 * over a sliding window and since start), behind the optional metrics credentials.
 */
export function registerMetricsEndpoints(
  app: FastifyInstance,
  dependencies: {
    readonly settings: TollboothConfig['metrics'];
    readonly registry: Registry;
    readonly statistics: RequestStatistics;
    readonly fleet: ReplicaRegistry;
  },
): void {
  const { registry, statistics, fleet } = dependencies;
  const mayRead = metricsAccessCheck(dependencies.settings);
  const guard = (authorization: string | undefined): void => {
    if (!mayRead(authorization)) throw new GatewayError('metrics_unauthorized');
  };

  app.get('/metrics', async (request, reply) => {
    guard(request.headers.authorization);
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });

  app.get('/api/v1/metrics', async (request) => {
    guard(request.headers.authorization);
    let waiting = 0;
    let inFlight = 0;
    for (const replica of fleet.replicas) {
      waiting += replica.awaitingHeaders;
      inFlight += replica.load.inFlight;
    }
    return statistics.snapshot(Date.now(), { waiting, running: inFlight - waiting });
  });
}
