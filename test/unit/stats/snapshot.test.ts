import { describe, expect, it } from 'vitest';
import { buildMetricsSnapshot, gpuFigures, type ReplicaFiguresInput } from '../../../src/telemetry/stats/snapshot.js';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { AggregateSet } from '../../../src/telemetry/stats/aggregate-set.js';
import { prepareRequest } from '../../../src/telemetry/stats/aggregate.js';
import { completedRequest, numbersIn } from './completed-request-factory.js';

const START = 1_700_000_000_000;
/** The log-spaced histogram's relative error bound (log-histogram.ts: under 4 %). */
const PERCENTILE_ERROR = 0.04;

const A100 = 'NVIDIA A100-SXM4-80GB';

function replica(overrides: Partial<ReplicaFiguresInput> & { name: string }): ReplicaFiguresInput {
  return { health: 'healthy', inFlight: 0, engine: undefined, gpus: undefined, ...overrides };
}

function setOf(...requests: ReturnType<typeof completedRequest>[]): AggregateSet {
  const set = new AggregateSet('cumulative');
  for (const request of requests) set.add(prepareRequest(request));
  return set;
}

describe('buildMetricsSnapshot: units', () => {
  it('reports a TTFT of 250 ms as 0.25 s, latency in seconds and decode speed in tokens/s', () => {
    const requests = Array.from({ length: 20 }, () =>
      completedRequest({ ttftMs: 250, latencyMs: 1500, decodeTokensPerSecond: 42, outputTokens: 30, inputTokens: 10 }),
    );
    const set = setOf(...requests);
    const snapshot = buildMetricsSnapshot({
      nowMs: START + 10_000,
      startedAtMs: START,
      windowMs: 300_000,
      currency: 'USD',
      window: { set, spanMs: 10_000, peakConcurrency: 4 },
      sinceStart: { set, spanMs: 10_000, peakConcurrency: 4 },
      replicas: [],
    });
    for (const key of ['mean', 'p50', 'p95', 'p99'] as const) {
      expect(Math.abs(snapshot.slo.ttft[key] - 0.25) / 0.25, key).toBeLessThan(PERCENTILE_ERROR);
      expect(Math.abs(snapshot.latency[key] - 1.5) / 1.5, key).toBeLessThan(PERCENTILE_ERROR);
    }
    expect(snapshot.slo.ttft.count).toBe(20);
    expect(snapshot.latency).toMatchObject({ min: 1.5, max: 1.5, count: 20 });
    expect(snapshot.latency.histogram['1-2s']).toBe(20);
    expect(Math.abs(snapshot.slo.throughput.decoding_p50 - 42) / 42).toBeLessThan(PERCENTILE_ERROR);
    expect(snapshot.slo.throughput).toMatchObject({ decoding_mean: 42, total: 60, count: 20 }); // 600 tokens / 10 s
    expect(snapshot.requests).toMatchObject({ total: 20, successful: 20, success_rate_percent: 100, requests_per_second: 2, peak_concurrent: 4 });
    expect(snapshot.tokens).toMatchObject({ total_input: 200, total_output: 600, avg_per_request: 40 });
  });
});

describe('buildMetricsSnapshot: the fleet', () => {
  const empty = new AggregateSet('cumulative');
  const build = (replicas: ReplicaFiguresInput[]) =>
    buildMetricsSnapshot({
      nowMs: START,
      startedAtMs: START,
      windowMs: 300_000,
      currency: 'USD',
      window: { set: empty, spanMs: 0, peakConcurrency: 0 },
      sinceStart: { set: empty, spanMs: 0, peakConcurrency: 0 },
      replicas,
    });

  it('waiting is the sum of the engines’ queues, running what is in flight at the gateway', () => {
    const snapshot = build([
      replica({ name: 'b', inFlight: 3, engine: { waiting: 4, running: 2, kvCacheUsage: 0.25, prefixCacheQueries: 100, prefixCacheHits: 40, prefixCacheHitRatio: 0.5 } }),
      replica({ name: 'a', inFlight: 1, engine: { waiting: 1, running: 1, kvCacheUsage: undefined, prefixCacheQueries: undefined, prefixCacheHits: undefined, prefixCacheHitRatio: undefined } }),
      replica({ name: 'c', health: 'unhealthy', inFlight: 0 }),
    ]);
    expect(snapshot.requests).toMatchObject({ waiting: 5, running: 4 });
    expect(Object.keys(snapshot.replicas)).toEqual(['a', 'b', 'c']);
    expect(snapshot.replicas['b']).toEqual({
      health: 'healthy',
      in_flight: 3,
      engine: { available: true, waiting: 4, running: 2, kv_cache_usage_percent: 25, prefix_cache_hit_rate_percent: 50, prefix_cache_queries: 100, prefix_cache_hits: 40 },
      gpu: { source: 'none', name: null, gpu_count: 0, allocated_gb: 0, total_gb: 0, free_gb: 0, utilization_percent: 0, compute_utilization_percent: 0 },
    });
    expect(snapshot.replicas['c']!.engine).toMatchObject({ available: false, waiting: 0, kv_cache_usage_percent: 0 });
  });

  it('sums GPU memory over replicas and GPUs; utilization_percent is memory in use, compute is DCGM’s GPU_UTIL', () => {
    const snapshot = build([
      replica({ name: 'a', gpus: [{ gpu: '0', name: A100, usedMiB: 40_960, freeMiB: 40_960, utilizationPercent: 80 }] }),
      replica({
        name: 'b',
        gpus: [
          { gpu: '0', name: A100, usedMiB: 20_480, freeMiB: 61_440, utilizationPercent: 20 },
          { gpu: '1', name: 'NVIDIA H100 80GB HBM3', usedMiB: 0, freeMiB: 81_920, utilizationPercent: undefined },
        ],
      }),
      replica({ name: 'c' }),
    ]);
    expect(snapshot.gpu).toEqual({
      source: 'dcgm',
      name: `${A100}, NVIDIA H100 80GB HBM3`,
      gpu_count: 3,
      allocated_gb: 60,
      total_gb: 240,
      free_gb: 180,
      utilization_percent: 25,
      compute_utilization_percent: 50,
      replicas_reporting: 2,
    });
    expect(snapshot.replicas['a']!.gpu).toMatchObject({ source: 'dcgm', name: A100, allocated_gb: 40, total_gb: 80, free_gb: 40, utilization_percent: 50, compute_utilization_percent: 80 });
    expect(snapshot.replicas['c']!.gpu.source).toBe('none');
  });

  it('without any GPU source says so, with zeros', () => {
    expect(gpuFigures([])).toEqual({ source: 'none', name: null, gpu_count: 0, allocated_gb: 0, total_gb: 0, free_gb: 0, utilization_percent: 0, compute_utilization_percent: 0 });
  });

  it('takes its status from the firing alerts', () => {
    const since = new Date(START).toISOString();
    const base = { nowMs: START, startedAtMs: START, windowMs: 300_000, currency: 'USD', window: { set: empty, spanMs: 0, peakConcurrency: 0 }, sinceStart: { set: empty, spanMs: 0, peakConcurrency: 0 }, replicas: [] };
    expect(buildMetricsSnapshot(base)).toMatchObject({ status: 'ok', alerts: [], alerts_count: 0 });
    const warning = { name: 'QueueTooLong', severity: 'warning' as const, message: 'waiting requests 7 > 5', since };
    expect(buildMetricsSnapshot({ ...base, alerts: [warning] })).toMatchObject({ status: 'warning', alerts_count: 1 });
    expect(buildMetricsSnapshot({ ...base, alerts: [warning, { ...warning, name: 'ErrorRate', severity: 'critical' }] }).status).toBe('critical');
  });
});

describe('RequestStatistics.snapshot: idle, as a monitoring loop reads it', () => {
  it('has every figure the reference loop formats as a float, as a number', () => {
    const snapshot = new RequestStatistics({ currency: 'USD', startedAtMs: START }).snapshot(START, [replica({ name: 'a' })]);
    const fields = [
      snapshot.requests.waiting,
      snapshot.requests.running,
      snapshot.slo.ttft.p95,
      snapshot.slo.throughput.decoding_mean,
      snapshot.gpu.utilization_percent,
      snapshot.alerts_count,
    ];
    for (const field of fields) expect(typeof field).toBe('number');
    for (const [path, value] of numbersIn(snapshot)) expect(Number.isFinite(value), path).toBe(true);
    expect(snapshot.status).toBe('ok');
  });
});

describe('buildMetricsSnapshot: what the dashboard needs', () => {
  const build = (set: AggregateSet) =>
    buildMetricsSnapshot({
      nowMs: START + 60_000,
      startedAtMs: START,
      windowMs: 300_000,
      currency: 'USD',
      window: { set, spanMs: 60_000, peakConcurrency: 1 },
      sinceStart: { set, spanMs: 60_000, peakConcurrency: 1 },
      replicas: [],
    });

  it('routing: the affinity ratio is affinity over the keyed requests (affinity + overflow)', () => {
    const snapshot = build(
      setOf(
        ...Array.from({ length: 6 }, () => completedRequest({ routingOutcome: 'affinity' })),
        ...Array.from({ length: 2 }, () => completedRequest({ routingOutcome: 'overflow' })),
        ...Array.from({ length: 5 }, () => completedRequest({ routingOutcome: 'no_key' })),
        completedRequest({ routingOutcome: null, replica: null, success: false, errorType: 'no_replica_available' }),
      ),
    );
    expect(snapshot.routing).toEqual({ decisions: { affinity: 6, no_key: 5, overflow: 2 }, session_requests: 8, affinity_ratio_percent: 75 });
    expect(snapshot.since_start.overall.routing).toEqual(snapshot.routing);
    expect(snapshot.by_model['llama']!.routing.affinity_ratio_percent).toBe(75);
  });

  it('routing: no keyed requests is a ratio of 0 with session_requests 0 beside it', () => {
    expect(build(setOf(completedRequest({ routingOutcome: 'least_loaded' }))).routing).toEqual({ decisions: { least_loaded: 1 }, session_requests: 0, affinity_ratio_percent: 0 });
    expect(build(new AggregateSet('cumulative')).routing).toEqual({ decisions: {}, session_requests: 0, affinity_ratio_percent: 0 });
  });

  it('by_tenant: requests, tokens and exact cost per tenant label', () => {
    const snapshot = build(
      setOf(
        completedRequest({ tenant: 'acme', costNanos: 1_500_000_000n, inputTokens: 1000, outputTokens: 500 }),
        completedRequest({ tenant: 'acme', costNanos: 500_000_000n, inputTokens: 1000, outputTokens: 500, success: false, errorType: 'upstream_timeout' }),
        completedRequest({ tenant: 'none', costNanos: 7n, inputTokens: 10, cachedInputTokens: 4, outputTokens: 1 }),
      ),
    );
    expect(snapshot.by_tenant).toEqual({
      acme: {
        requests: 2,
        failed: 1,
        tokens: { total_input: 2000, total_cached_input: 0, total_output: 1000 },
        cost: { currency: 'USD', total: '2', total_nanos: '2000000000', cost_per_1k_tokens: '0.666666667' },
      },
      none: {
        requests: 1,
        failed: 0,
        tokens: { total_input: 10, total_cached_input: 4, total_output: 1 },
        cost: { currency: 'USD', total: '0.000000007', total_nanos: '7', cost_per_1k_tokens: '0.000000636' },
      },
    });
    expect(snapshot.since_start.by_tenant).toEqual(snapshot.by_tenant);
  });

  it('slo.tpot: the inverse of the decode speeds, in TPOT order (its p95 is the speed p5)', () => {
    // 100 requests at 10..109 tokens/s: TPOT from 1/109 s to 1/10 s.
    const snapshot = build(setOf(...Array.from({ length: 100 }, (_, i) => completedRequest({ decodeTokensPerSecond: 10 + i }))));
    const { tpot } = snapshot.slo;
    expect(tpot.count).toBe(100);
    // Nearest rank in TPOT order: p50 is the 50th fastest-to-slowest = 1/60, p95 = 1/15, p99 = 1/11.
    expect(Math.abs(tpot.p50 - 1 / 60) / (1 / 60)).toBeLessThan(PERCENTILE_ERROR);
    expect(Math.abs(tpot.p95 - 1 / 15) / (1 / 15)).toBeLessThan(PERCENTILE_ERROR);
    expect(Math.abs(tpot.p99 - 1 / 11) / (1 / 11)).toBeLessThan(PERCENTILE_ERROR);
    expect(tpot.p50).toBeLessThan(tpot.p95);
    expect(build(new AggregateSet('cumulative')).slo.tpot).toEqual({ p50: 0, p95: 0, p99: 0, count: 0 });
  });
});
