import { describe, expect, it } from 'vitest';
import { buildCapacityReport, type ModelCapacityInput } from '../../../../src/analytics/capacity/capacity-report.js';
import { ConcurrencyLearner } from '../../../../src/analytics/capacity/concurrency-learner.js';
import { gatewayCapacityInputs, momentsInSeconds } from '../../../../src/analytics/capacity/gateway-inputs.js';
import { bucketVariance, parseDurationSeconds } from '../../../../src/analytics/capacity/prometheus-source.js';
import { duration, formatCapacityTables } from '../../../../src/analytics/capacity/table.js';
import { LogHistogram, TIME_MS_LAYOUT } from '../../../../src/telemetry/stats/log-histogram.js';
import { RequestStatistics } from '../../../../src/telemetry/stats/request-statistics.js';

const settings = { target: { waitProbability: 0.05, ttft: { quantile: 0.95, seconds: 1 } }, forecastHorizonSeconds: 3600, seasonSeconds: 0 };

function input(overrides: Partial<ModelCapacityInput['traffic']> = {}, rates?: number[]): ModelCapacityInput {
  return {
    requests: 6000,
    spanSeconds: 300,
    traffic: {
      arrivalRate: 20,
      arrivalScv: undefined,
      latencyMean: 2,
      latencyVariance: 0.8,
      ttftMean: 0.1,
      replicas: 2,
      concurrencyPerReplica: 32,
      ...overrides,
    },
    concurrencySource: 'config',
    history: rates === undefined ? undefined : { stepSeconds: 60, rates },
  };
}

describe('buildCapacityReport', () => {
  it('reports today, the replicas needed, the headroom and the forecast, consistently', () => {
    // One point a minute rising 0.2 req/s a minute, up to today's 20.
    const rising = Array.from({ length: 60 }, (_, i) => 20 - 0.2 * (59 - i));
    const report = buildCapacityReport('gateway', Date.UTC(2026, 0, 1), settings, new Map([['m', input({}, rising)]]));
    const model = report.models.m!;
    expect(report.generated_at).toBe('2026-01-01T00:00:00.000Z');
    expect(report.target).toEqual({ wait_probability: 0.05, mean_wait_seconds: null, ttft_quantile: 0.95, ttft_seconds: 1 });
    // Light load: the service time is almost the latency; ρ = λ·S/(n·c).
    expect(model.estimated.service_time_seconds).toBeLessThanOrEqual(2);
    expect(model.now.utilisation).toBeCloseTo((20 * model.estimated.service_time_seconds) / 64, 2);
    expect(model.now.meets_target).toBe(true);
    expect(model.required_replicas).toBeLessThanOrEqual(2);
    expect(model.at_required_replicas!.meets_target).toBe(true);
    expect(model.headroom.max_arrival_rate).toBeGreaterThan(20);
    expect(model.headroom.extra_ratio).toBeCloseTo(model.headroom.max_arrival_rate / 20 - 1, 2);
    expect(model.forecast!.method).toBe('holt');
    expect(model.forecast!.trend_per_hour).toBeCloseTo(12, 0);
    // The line goes on from 20 at 0.2 a minute: the first whole minute at or past the maximum.
    const minutes = Math.ceil((model.headroom.max_arrival_rate - 20) / 0.2 - 1e-6);
    expect(minutes).toBeLessThanOrEqual(60);
    expect(model.forecast!.breach_in_seconds).toBe(minutes * 60);
  });

  it('says NO, more replicas and no headroom for an overloaded model, with null for infinite figures', () => {
    const report = buildCapacityReport('gateway', 0, settings, new Map([['hot', input({ arrivalRate: 40, replicas: 1 })]]));
    const model = report.models.hot!;
    expect(model.now.utilisation).toBeGreaterThan(0.9);
    expect(model.now.meets_target).toBe(false);
    expect(model.required_replicas!).toBeGreaterThan(1);
    expect(model.headroom.extra_ratio!).toBeLessThan(0);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('leaves out models without latency and has no forecast from too short a history', () => {
    const report = buildCapacityReport(
      'gateway',
      0,
      settings,
      new Map([
        ['idle', input({ latencyMean: 0 })],
        ['short', input({}, [1, 2, 3])],
      ]),
    );
    expect(Object.keys(report.models)).toEqual(['short']);
    expect(report.models.short!.forecast).toBeNull();
  });
});

describe('formatCapacityTables', () => {
  it('prints one row per model in each table, the target and the footnote', () => {
    const report = buildCapacityReport('prometheus', 0, settings, new Map([['m', input()]]));
    const text = formatCapacityTables(report);
    expect(text).toContain('capacity (prometheus, 1970-01-01T00:00:00.000Z)');
    expect(text).toContain('target: P(wait) ≤ 5 %, TTFT p95 ≤ 1 s');
    const rows = text.split('\n').filter((line) => line.startsWith('m '));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('32 (config)');
    expect(rows[0]).toContain('1.00*');
    expect(rows[1]).toContain('yes');
    expect(rows[1]).toContain('no forecast');
    expect(formatCapacityTables({ ...report, models: {} })).toContain('no model had requests in the window');
    expect([duration(45), duration(720), duration(5.5 * 3600), duration(3.2 * 86_400)]).toEqual(['45 s', '12 min', '5.5 h', '3.2 d']);
  });
});

describe('gatewayCapacityInputs', () => {
  it('turns the statistics window into rates, latency moments and per-slot history', () => {
    const statistics = new RequestStatistics({ currency: 'USD', startedAtMs: 0, windowMs: 300_000, slotMs: 10_000 });
    // 7 whole slots of 10 requests each of 400 ms, then 3 in the current slot.
    for (let slot = 0; slot < 8; slot++) {
      for (let i = 0; i < (slot < 7 ? 10 : 3); i++) {
        statistics.record({
          model: 'm', replica: 'r', tenant: 'none', routingOutcome: null, endedAtMs: slot * 10_000 + i * 100 + 50, success: true, errorType: null,
          latencyMs: i % 2 === 0 ? 300 : 500, ttftMs: 50, decodeTokensPerSecond: null,
          inputTokens: 1, cachedInputTokens: 0, outputTokens: 1, tokensEstimated: false, costNanos: 0n,
        });
      }
    }
    const windows = statistics.modelWindows(75_000);
    const inputs = gatewayCapacityInputs(windows, () => ({ replicas: 3, learnedConcurrency: 12 }), { models: {}, defaultConcurrencyPerReplica: 256 });
    const m = inputs.get('m')!;
    expect(m.requests).toBe(73);
    expect(m.spanSeconds).toBe(75);
    expect(m.traffic.arrivalRate).toBeCloseTo(73 / 75, 9);
    expect(m.traffic.latencyMean).toBeCloseTo((7 * 4000 + 1100) / 73 / 1000, 9);
    // 300 and 500 ms alternating: standard deviation about 0.1 s (the buckets are 4 % wide).
    expect(Math.sqrt(m.traffic.latencyVariance)).toBeGreaterThan(0.095);
    expect(Math.sqrt(m.traffic.latencyVariance)).toBeLessThan(0.106);
    expect(m.traffic.ttftMean).toBeCloseTo(0.05, 9);
    expect(m.traffic.replicas).toBe(3);
    expect([m.traffic.concurrencyPerReplica, m.concurrencySource]).toEqual([12, 'learned']);
    expect(m.history).toEqual({ stepSeconds: 10, rates: [1, 1, 1, 1, 1, 1, 1] });
    // Even counts are significantly under-dispersed: measured ca² 0 rather than Poisson.
    expect(m.traffic.arrivalScv).toBe(0);
    const configured = gatewayCapacityInputs(windows, () => ({ replicas: 1, learnedConcurrency: 12 }), { models: { m: { maxNumSeqs: 64 } }, defaultConcurrencyPerReplica: 256 });
    expect([configured.get('m')!.traffic.concurrencyPerReplica, configured.get('m')!.concurrencySource]).toEqual([64, 'config']);
    const fallback = gatewayCapacityInputs(windows, () => ({ replicas: 1, learnedConcurrency: undefined }), { models: {}, defaultConcurrencyPerReplica: 256 });
    expect([fallback.get('m')!.traffic.concurrencyPerReplica, fallback.get('m')!.concurrencySource]).toEqual([256, 'default']);
  });

  it('computes moments of a millisecond histogram in seconds', () => {
    const histogram = new LogHistogram(TIME_MS_LAYOUT, 'cumulative');
    for (const value of [100, 200, 300, 400, 500]) histogram.record(value);
    const moments = momentsInSeconds(histogram)!;
    expect(moments.mean).toBeCloseTo(0.3, 12);
    expect(Math.sqrt(moments.variance)).toBeCloseTo(Math.sqrt(0.025), 2);
    expect(momentsInSeconds(new LogHistogram(TIME_MS_LAYOUT, 'cumulative'))).toBeUndefined();
  });
});

describe('ConcurrencyLearner', () => {
  it('learns the running count at saturation only, once per scrape, and forgets replicas that left', () => {
    const learner = new ConcurrencyLearner();
    learner.observe('a', { running: 100, waiting: 0, scrapedAt: 1 });
    expect(learner.learned(['a'])).toBeUndefined();
    learner.observe('a', { running: 47, waiting: 3, scrapedAt: 2 });
    learner.observe('a', { running: 48, waiting: 1, scrapedAt: 3 });
    learner.observe('a', { running: 60, waiting: 1, scrapedAt: 3 }); // the same scrape again
    learner.observe('b', { running: 16, waiting: 9, scrapedAt: 3 });
    expect(learner.learned(['a'])).toBe(48);
    expect(learner.learned(['a', 'b'])).toBe(48);
    learner.retain(new Set(['b']));
    expect(learner.learned(['a'])).toBeUndefined();
    expect(learner.learned(['b'])).toBe(16);
  });
});

describe('prometheus-source helpers', () => {
  it('estimates a variance from cumulative buckets around the exact mean', () => {
    const sample = (le: string, value: number) => ({ metric: { model: 'm', le }, value: [0, String(value)] as [number, string] });
    // Half the requests in (0, 1], half in (1, 3]: midpoints 0.5 and 2 around a mean of 1.25.
    const variance = bucketVariance([sample('3', 10), sample('1', 5), sample('+Inf', 10)], 1.25);
    expect(variance).toBeCloseTo(0.5625, 12);
  });

  it('parses durations and refuses others', () => {
    expect([parseDurationSeconds('90s'), parseDurationSeconds('15m'), parseDurationSeconds('6h'), parseDurationSeconds('7d'), parseDurationSeconds('2w')]).toEqual([
      90, 900, 21_600, 604_800, 1_209_600,
    ]);
    expect(() => parseDurationSeconds('5 minutes')).toThrow(/not a duration/);
    expect(() => parseDurationSeconds('0s')).toThrow(/longer than 0/);
  });
});
