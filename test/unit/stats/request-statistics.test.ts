import { describe, expect, it } from 'vitest';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { completedRequest } from './completed-request-factory.js';

const START = 1_700_000_000_000; // a whole number of 10-second slots
const IDLE = { waiting: 0, running: 0 };

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
  const snapshot = knownSequence().snapshot(START + 20_000, { waiting: 2, running: 5 });

  it('reports the top-level fields', () => {
    expect(snapshot).toMatchObject({
      status: 'ok',
      generated_at: new Date(START + 20_000).toISOString(),
      uptime_seconds: 20,
      window_seconds: 300,
      num_waiting_requests: 2,
      num_running_requests: 5,
      replica_engine: {},
    });
    expect(snapshot.window.span_seconds).toBe(20);
  });

  it('counts requests, rates, tokens, cost and errors exactly', () => {
    const overall = snapshot.window.overall;
    expect(overall.requests).toEqual({
      total_requests: 4,
      successful_requests: 2,
      failed_requests: 2,
      success_rate_percent: 50,
      error_rate_percent: 50,
      requests_per_second: 0.2,
    });
    expect(overall.tokens).toEqual({
      total_input_tokens: 350,
      total_cached_input_tokens: 40,
      total_output_tokens: 40,
      avg_tokens_per_request: 97.5,
      estimated_requests: 1,
    });
    // 3000 nanos over 390 tokens: 7692.3 nanos per 1k tokens.
    expect(overall.cost).toEqual({ currency: 'USD', total: '0.000003', total_nanos: '3000', cost_per_1k_tokens: '0.000007692' });
    expect(overall.errors).toEqual({ total: 2, by_type: { no_replica_available: 1, upstream_timeout: 1 } });
  });

  it('reports latency and SLO figures (exact min, max, means; nearest-rank percentiles)', () => {
    const overall = snapshot.window.overall;
    expect(overall.latency).toMatchObject({ latency_mean: 3087.75, latency_min: 1, latency_max: 12_000, latency_p99: 12_000 });
    expect(overall.latency.histogram).toEqual({
      '0-100ms': 2, '100-500ms': 1, '500-1000ms': 0, '1-2s': 0, '2-5s': 0, '5-10s': 0, '>10s': 1,
    });
    expect(overall.slo).toEqual({
      ttft_mean: 60,
      ttft_p50: 20,
      ttft_p95: 100,
      ttft_p99: 100,
      decoding_throughput_mean: 40,
      decoding_throughput_p50: 30,
      total_throughput: 2,
    });
  });

  it('breaks down by model and by replica; requests without a replica only count per model', () => {
    const { by_model, by_replica } = snapshot.window;
    expect(Object.keys(by_model)).toEqual(['llama', 'qwen']);
    expect(by_model['llama']!.requests.total_requests).toBe(2);
    expect(by_model['qwen']!.requests).toMatchObject({ total_requests: 2, failed_requests: 2, success_rate_percent: 0 });
    expect(by_model['qwen']!.slo.ttft_p50).toBeNull();
    expect(Object.keys(by_replica)).toEqual(['a', 'b']);
    expect(by_replica['a']!.requests.total_requests).toBe(2);
    expect(by_replica['a']!.errors.by_type).toEqual({ upstream_timeout: 1 });
    expect(by_replica['b']!.tokens.estimated_requests).toBe(1);
  });

  it('agrees with since-start while everything is inside the window', () => {
    expect(snapshot.since_start).toEqual(snapshot.window);
  });

  it('passes the replicas’ engine figures through, non-finite ones as null', () => {
    const engine = new Map([['a', { gpu_cache_usage_percent: 41.5, num_preemptions: Number.NaN }]]);
    expect(knownSequence().snapshot(START + 20_000, IDLE, engine).replica_engine).toEqual({
      a: { gpu_cache_usage_percent: 41.5, num_preemptions: null },
    });
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
    const byModel = stats.snapshot(START + 1000, IDLE).window.by_model;
    expect(Object.keys(byModel)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(byModel))['__proto__'].requests.total_requests).toBe(1);
  });
});
