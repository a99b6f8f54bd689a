import { describe, expect, it } from 'vitest';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { completedRequest } from './completed-request-factory.js';

const START = 1_700_000_000_000; // a whole number of 10-second slots

function knownSequence(): RequestStatistics {
  const stats = new RequestStatistics({ currency: 'USD', startedAtMs: START });
  const stream = { success: true, errorType: null } as const;
  const failure = { success: false, ttftMs: null, decodeTokensPerSecond: null, outputTokens: 0, costNanos: 0n } as const;
  const requests = [
    { ...stream, endedAtMs: START + 1000, latencyMs: 50, ttftMs: 20, decodeTokensPerSecond: 30, inputTokens: 100,
      cachedInputTokens: 40, outputTokens: 10, costNanos: 1000n },
    { ...stream, endedAtMs: START + 2000, replica: 'b', latencyMs: 300, ttftMs: 100, decodeTokensPerSecond: 50,
      inputTokens: 200, outputTokens: 30, tokensEstimated: true, costNanos: 2000n },
    { ...failure, endedAtMs: START + 3000, model: 'qwen', errorType: 'upstream_timeout', latencyMs: 12_000, inputTokens: 50 },
    { ...failure, endedAtMs: START + 4000, model: 'qwen', replica: null, errorType: 'no_replica_available', latencyMs: 1,
      inputTokens: 0 },
  ];
  for (const request of requests) stats.record(completedRequest(request));
  return stats;
}

describe('RequestStatistics: a known sequence', () => {
  const snapshot = knownSequence().snapshot(START + 20_000);

  it('reports the top-level fields', () => {
    expect(snapshot).toMatchObject({
      status: 'ok',
      generated_at: new Date(START + 20_000).toISOString(),
      uptime_seconds: 20,
      window_seconds: 300,
      span_seconds: 20,
      alerts: [],
      alerts_count: 0,
      replicas: {},
    });
    expect(snapshot.requests).toMatchObject({ waiting: 0, running: 0, peak_concurrent: 0 });
    expect(snapshot.gpu).toMatchObject({ source: 'none', name: null, utilization_percent: 0, replicas_reporting: 0 });
  });

  it('counts requests, rates, tokens, cost and errors exactly', () => {
    expect(snapshot.requests).toEqual({
      waiting: 0,
      running: 0,
      peak_concurrent: 0,
      total: 4,
      successful: 2,
      failed: 2,
      success_rate_percent: 50,
      error_rate_percent: 50,
      requests_per_second: 0.2,
    });
    expect(snapshot.tokens).toEqual({
      total_input: 350,
      total_cached_input: 40,
      total_output: 40,
      avg_per_request: 97.5,
      estimated_requests: 1,
    });
    // 3000 nanos over 390 tokens: 7692.3 nanos per 1k tokens.
    expect(snapshot.cost).toEqual({ currency: 'USD', total: '0.000003', total_nanos: '3000', cost_per_1k_tokens: '0.000007692' });
    expect(snapshot.errors).toEqual({ total: 2, by_type: { no_replica_available: 1, upstream_timeout: 1 } });
  });

  it('reports latency and SLO figures in seconds (exact min, max, means; nearest-rank percentiles)', () => {
    expect(snapshot.latency).toMatchObject({ mean: 3.08775, min: 0.001, max: 12, p99: 12, count: 4 });
    expect(snapshot.latency.histogram).toEqual({
      '0-100ms': 2, '100-500ms': 1, '500-1000ms': 0, '1-2s': 0, '2-5s': 0, '5-10s': 0, '>10s': 1,
    });
    expect(snapshot.slo).toEqual({
      ttft: { mean: 0.06, p50: 0.02, p95: 0.1, p99: 0.1, count: 2 },
      throughput: { decoding_mean: 40, decoding_p50: 30, total: 2, count: 2 },
      // 30 and 50 tokens/s: 1/50 s and 1/30 s per token (p95 and p99 are the slower one, exact as the max).
      tpot: { p50: 0.02, p95: 0.033333, p99: 0.033333, count: 2 },
    });
  });

  it('breaks down by model and by replica; requests without a replica only count per model', () => {
    const { by_model, by_replica } = snapshot;
    expect(Object.keys(by_model)).toEqual(['llama', 'qwen']);
    expect(by_model['llama']!.requests.total).toBe(2);
    expect(by_model['qwen']!.requests).toMatchObject({ total: 2, failed: 2, success_rate_percent: 0 });
    // An empty percentile is 0, with its count of 0 beside it.
    expect(by_model['qwen']!.slo.ttft).toEqual({ mean: 0, p50: 0, p95: 0, p99: 0, count: 0 });
    expect(Object.keys(by_replica)).toEqual(['a', 'b']);
    expect(by_replica['a']!.requests.total).toBe(2);
    expect(by_replica['a']!.errors.by_type).toEqual({ upstream_timeout: 1 });
    expect(by_replica['b']!.tokens.estimated_requests).toBe(1);
  });

  it('agrees with since-start while everything is inside the window', () => {
    expect(snapshot.since_start.overall).toEqual({
      requests: { total: 4, successful: 2, failed: 2, success_rate_percent: 50, error_rate_percent: 50, requests_per_second: 0.2 },
      slo: snapshot.slo,
      latency: snapshot.latency,
      tokens: snapshot.tokens,
      cost: snapshot.cost,
      routing: snapshot.routing,
      errors: snapshot.errors,
    });
    expect(snapshot.since_start.by_tenant).toEqual(snapshot.by_tenant);
    expect(snapshot.since_start.by_model).toEqual(snapshot.by_model);
    expect(snapshot.since_start.by_replica).toEqual(snapshot.by_replica);
  });
});

describe('RequestStatistics: options', () => {
  it('wants a window that is a whole multiple of the slot', () => {
    expect(() => new RequestStatistics({ currency: 'USD', startedAtMs: 0, windowMs: 25_000, slotMs: 10_000 })).toThrow(RangeError);
    expect(() => new RequestStatistics({ currency: 'USD', startedAtMs: 0, slotMs: 0 })).toThrow(RangeError);
    expect(() => new RequestStatistics({ currency: 'USD', startedAtMs: 0, windowMs: 5_000 })).toThrow(RangeError);
  });

  it('keeps a model name like __proto__ as a plain key', () => {
    const stats = new RequestStatistics({ currency: 'EUR', startedAtMs: START });
    stats.record(completedRequest({ model: '__proto__', endedAtMs: START + 1 }));
    const byModel = stats.snapshot(START + 1000).by_model;
    expect(Object.keys(byModel)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(byModel))['__proto__'].requests.total).toBe(1);
  });
});
