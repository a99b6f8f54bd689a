import { describe, expect, it } from 'vitest';
import { reportConfigSchema } from '../../../src/analytics/report/config.js';
import { gatewayWindowReport, objectiveWindowSeconds, statusOfErrorType } from '../../../src/analytics/report/gateway-window.js';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import type { CompletedRequest } from '../../../src/telemetry/stats/completed-request.js';

/** The gateway-window report over the real statistics core: which objectives its window can judge, and how. */
const START_MS = Date.parse('2026-02-10T12:00:00Z');
const COST = { currency: 'USD', tokenPrices: {}, replicaHourly: {} };

function request(overrides: Partial<CompletedRequest>): CompletedRequest {
  return {
    model: 'm',
    replica: 'r',
    tenant: 'none',
    routingOutcome: null,
    endedAtMs: START_MS + 1_000,
    success: true,
    errorType: null,
    latencyMs: 200,
    ttftMs: 50,
    decodeTokensPerSecond: 100,
    inputTokens: 10,
    cachedInputTokens: 0,
    outputTokens: 5,
    tokensEstimated: false,
    costNanos: 0n,
    ...overrides,
  };
}

function snapshotAfter(windowMs: number, uptimeMs: number, requests: CompletedRequest[]) {
  const statistics = new RequestStatistics({ windowMs, slotMs: 10_000, currency: 'USD', startedAtMs: START_MS });
  for (const one of requests) statistics.record(one);
  return statistics.snapshot(START_MS + uptimeMs);
}

const objectives = reportConfigSchema.parse({
  objectives: [
    { sli: 'availability', objective: 0.9, window: 'hourly' },
    { sli: 'latency', quantile: 0.95, thresholdSeconds: 2, window: 'hourly' },
    { sli: 'latency', quantile: 0.95, thresholdSeconds: 3, window: 'hourly' },
    { sli: 'availability', objective: 0.9, window: 'daily' },
  ],
});

describe('gatewayWindowReport', () => {
  it('counts 5xx answers only, and marks the hour partial while the gateway has been up for less', () => {
    const requests = [
      ...Array.from({ length: 16 }, () => request({})),
      request({ success: false, errorType: 'upstream_http_503' }),
      request({ success: false, errorType: 'overloaded' }),
      request({ success: false, errorType: 'rate_limit_exceeded' }),
      request({ success: false, errorType: 'client_disconnected' }),
      request({ latencyMs: 4_000 }),
    ];
    const report = gatewayWindowReport({ snapshot: snapshotAfter(3_600_000, 60_000, requests), url: 'http://gw', report: objectives, cost: COST });
    const [availability, latencyAtEdge, latencyOffEdge, daily] = report.objectives;
    const fleet = availability!.scopes[0]!;
    expect(fleet).toMatchObject({ scope: { kind: 'all' }, met: true, figure: 1 - 2 / 21 });
    expect(fleet.windows).toEqual([expect.objectContaining({ partial: true, events: 21, bad: 2 })]);
    expect(report.stepSeconds).toBe(60);
    expect(availability!.scopes.map((scope) => scope.scope)).toEqual([{ kind: 'all', name: 'all' }, { kind: 'model', name: 'm' }]);
    // 2 s is an edge of the JSON's latency histogram: one request lies above it; 3 s is not an edge.
    expect(latencyAtEdge!.scopes[0]!.budget.used).toBe(1);
    expect(latencyOffEdge!.scopes[0]!.budget).toMatchObject({ used: null, left: null, usedShare: null });
    expect(daily).toMatchObject({ met: null, scopes: [] });
    expect(daily!.notJudged).toContain('a daily objective needs 86400 s');
  });

  it('judges nothing hourly from the default five-minute window', () => {
    const report = gatewayWindowReport({ snapshot: snapshotAfter(300_000, 7_200_000, [request({ endedAtMs: START_MS + 7_100_000 })]), url: 'http://gw', report: objectives, cost: COST });
    expect(report.objectives.every((objective) => objective.notJudged?.startsWith("not enough history: the gateway's JSON keeps the last 300 s"))).toBe(true);
  });

  it('knows the statuses of error types and the length of a calendar month', () => {
    expect(statusOfErrorType('upstream_http_502')).toBe(502);
    expect(statusOfErrorType('upstream_timeout')).toBe(504);
    expect(statusOfErrorType('invalid_json')).toBe(400);
    expect(statusOfErrorType('upstream_in_band')).toBeUndefined();
    expect(statusOfErrorType('toString')).toBeUndefined();
    expect(objectiveWindowSeconds('monthly', Date.parse('2026-02-10T00:00:00Z') / 1000)).toBe(28 * 86_400);
    expect(objectiveWindowSeconds('monthly', Date.parse('2026-12-31T23:00:00Z') / 1000)).toBe(31 * 86_400);
  });
});
