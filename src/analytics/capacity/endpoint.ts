import type { FastifyInstance } from 'fastify';
import type { MetricsConfig } from '../../telemetry/metrics/config.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { ReplicaRegistry } from '../../routing/registry.js';
import { metricsAccessCheck } from '../../server/metrics-auth.js';
import type { RequestStatistics } from '../../telemetry/stats/request-statistics.js';
import { buildCapacityReport, type CapacitySettings } from './capacity-report.js';
import { ConcurrencyLearner } from './concurrency-learner.js';
import type { CapacityConfig } from './config.js';
import { gatewayCapacityInputs } from './gateway-inputs.js';

/** How often the engines' running and waiting counts are looked at for the learned concurrency. */
const LEARN_INTERVAL_MS = 1_000;
/**
 * The in-memory history is one window (minutes): the forecast from it looks no further ahead than
 * this many windows, however far the configured horizon reaches (the Prometheus history of the CLI
 * is what to plan weeks with).
 */
export const IN_MEMORY_FORECAST_REACH = 12;

/**
 * GET /api/v1/capacity: the capacity report (capacity-report.ts) from the gateway's statistics
 * window and the fleet, behind the same credentials as /api/v1/metrics.
 */
export function registerCapacityEndpoint(
  app: FastifyInstance,
  dependencies: {
    readonly metrics: MetricsConfig;
    readonly capacity: CapacityConfig;
    readonly statistics: RequestStatistics;
    readonly fleet: ReplicaRegistry;
  },
): void {
  const { capacity, statistics, fleet } = dependencies;
  const mayRead = metricsAccessCheck(dependencies.metrics);
  const learner = new ConcurrencyLearner();
  const learn = (): void => {
    for (const replica of fleet.replicas) if (replica.engineStats !== undefined) learner.observe(replica.name, replica.engineStats);
  };
  const timer = setInterval(learn, LEARN_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get('/api/v1/capacity', async (request) => {
    if (!mayRead(request.headers.authorization)) throw new GatewayError('metrics_unauthorized');
    learn();
    learner.retain(new Set(fleet.replicas.map((replica) => replica.name)));
    const nowMs = Date.now();
    const windows = statistics.modelWindows(nowMs);
    const inputs = gatewayCapacityInputs(
      windows,
      (model) => {
        const serving = fleet.replicasServing(model);
        const healthy = serving.filter((replica) => replica.health === 'healthy').length;
        return { replicas: healthy > 0 ? healthy : serving.length, learnedConcurrency: learner.learned(serving.map((replica) => replica.name)) };
      },
      capacity,
    );
    const settings: CapacitySettings = {
      target: capacity.target,
      forecastHorizonSeconds: Math.min(capacity.forecastHorizonSeconds, (IN_MEMORY_FORECAST_REACH * windows.spanMs) / 1000),
      seasonSeconds: capacity.seasonSeconds,
    };
    return buildCapacityReport('gateway', nowMs, settings, inputs);
  });
}
