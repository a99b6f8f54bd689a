import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import type { Alert, MetricsApiResponse, ReplicaFiguresInput } from '../../../src/telemetry/stats/snapshot.js';
import type { TopView } from '../../../src/cli/top/render.js';
import { completedRequest } from '../stats/completed-request-factory.js';

/** Snapshots made by the gateway's own code (RequestStatistics → buildMetricsSnapshot), not written by hand. */

export const START = 1_700_000_000_000;
export const NOW = START + 125_000;

const L4 = { gpu: '0', name: 'NVIDIA L4', usedMiB: 15_360, freeMiB: 7_674, utilizationPercent: 60 };

export function replicaInput(name: string, overrides: Partial<ReplicaFiguresInput> = {}): ReplicaFiguresInput {
  return {
    name,
    health: 'healthy',
    inFlight: 4,
    engine: { waiting: 2, running: 4, kvCacheUsage: 0.455, prefixCacheQueries: 1000, prefixCacheHits: 400, prefixCacheHitRatio: 0.4 },
    gpus: [L4],
    ...overrides,
  };
}

/** 120 requests over two replicas (three failed), TTFT 40–160 ms, decode 40 tokens/s. */
export function busySnapshot(replicas: readonly ReplicaFiguresInput[] = [replicaInput('sim-0'), replicaInput('sim-1', { inFlight: 7 })], alerts: readonly Alert[] = []): MetricsApiResponse {
  const stats = new RequestStatistics({ currency: 'USD', startedAtMs: START });
  for (let i = 0; i < 120; i += 1) {
    const failed = i % 40 === 39;
    stats.record(
      completedRequest({
        endedAtMs: START + 1_000 * i,
        replica: `sim-${i % 2}`,
        success: !failed,
        errorType: failed ? 'upstream_timeout' : null,
        ttftMs: failed ? null : 40 + i,
        decodeTokensPerSecond: failed ? null : 40,
        latencyMs: 300 + i,
        outputTokens: failed ? 0 : 60,
      }),
    );
  }
  return stats.snapshot(NOW, replicas, alerts);
}

export function idleSnapshot(): MetricsApiResponse {
  return new RequestStatistics({ currency: 'USD', startedAtMs: START }).snapshot(START + 3_000, [
    replicaInput('sim-0', { inFlight: 0, engine: undefined, gpus: undefined, health: 'unknown' }),
  ]);
}

export function viewOf(snapshot: MetricsApiResponse | undefined, overrides: Partial<TopView> = {}): TopView {
  return {
    url: 'http://127.0.0.1:8081/api/v1/metrics',
    clock: '12:00:05',
    nowMs: NOW,
    snapshot,
    readAtMs: snapshot === undefined ? undefined : NOW,
    problem: undefined,
    maxConcurrency: undefined,
    intervalMs: 1000,
    ...overrides,
  };
}

export const FIRING: Alert = {
  name: 'ErrorRateTooHigh',
  severity: 'critical',
  message: 'Error rate (%): requests.error_rate_percent = 12.5 (> 10 for 300 s)',
  since: new Date(NOW - 72_000).toISOString(),
  scope: 'fleet',
};
