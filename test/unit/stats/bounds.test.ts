import { describe, expect, it } from 'vitest';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { completedRequest, numbersIn, seededRandom } from './completed-request-factory.js';

const START = 1_700_000_000_000;

/** Paths of the null values in a JSON value. */
function nullsIn(value: unknown, path = ''): string[] {
  if (value === null) return [path];
  if (typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => nullsIn(inner, path === '' ? key : `${path}.${key}`));
}

function expectOnlyFiniteNumbers(value: unknown): void {
  const json = JSON.stringify(value);
  expect(JSON.parse(json)).toEqual(value); // nothing undefined, nothing lost
  for (const [path, number] of numbersIn(value)) expect(Number.isFinite(number), path).toBe(true);
}

describe('RequestStatistics: no NaN or Infinity in the JSON', () => {
  it('with nothing recorded, at the very start (zero span)', () => {
    const snapshot = new RequestStatistics({ currency: 'USD', startedAtMs: START }).snapshot(START);
    expectOnlyFiniteNumbers(snapshot);
    // Over nothing every figure is 0 (its count beside it says so); only these strings may be null.
    expect(snapshot.requests).toMatchObject({ total: 0, error_rate_percent: 0, success_rate_percent: 0, requests_per_second: 0 });
    expect(snapshot.slo.ttft).toEqual({ mean: 0, p50: 0, p95: 0, p99: 0, count: 0 });
    expect(snapshot.latency).toMatchObject({ min: 0, max: 0, count: 0 });
    expect(snapshot.cost.cost_per_1k_tokens).toBeNull();
    expect(nullsIn(snapshot).sort()).toEqual(['cost.cost_per_1k_tokens', 'gpu.name', 'since_start.overall.cost.cost_per_1k_tokens']);
  });

  it('with a single request in a zero-length span', () => {
    const stats = new RequestStatistics({ currency: 'USD', startedAtMs: START });
    stats.record(completedRequest({ endedAtMs: START }));
    const snapshot = stats.snapshot(START);
    expectOnlyFiniteNumbers(snapshot);
    expect(snapshot.requests.requests_per_second).toBe(0);
    expect(snapshot.latency.p99).toBe(0.2);
  });

  it('with a clock that runs behind the start and garbage values recorded', () => {
    const stats = new RequestStatistics({ currency: 'USD', startedAtMs: START });
    stats.record(
      completedRequest({
        endedAtMs: Number.NaN,
        latencyMs: Number.NaN,
        ttftMs: Number.POSITIVE_INFINITY,
        decodeTokensPerSecond: -3,
        inputTokens: Number.NaN,
        outputTokens: -5,
        cachedInputTokens: Number.POSITIVE_INFINITY,
      }),
    );
    stats.record(completedRequest({ endedAtMs: START - 50, latencyMs: 0, ttftMs: 0, decodeTokensPerSecond: 0 }));
    const snapshot = stats.snapshot(START - 100);
    expectOnlyFiniteNumbers(snapshot);
    expect(snapshot.since_start.overall.requests.total).toBe(2);
    expect(snapshot.since_start.overall.latency.mean).toBe(0);
    expect(snapshot.since_start.overall.tokens.total_input).toBe(100);
  });
});

describe('RequestStatistics: memory is bounded', () => {
  it('allocates no more slots or histograms after 100k records over five simulated hours', () => {
    const random = seededRandom(1);
    const models = ['llama', 'qwen', 'other'];
    const replicas = ['a', 'b', 'c', 'd', null];
    const stats = new RequestStatistics({ currency: 'USD', startedAtMs: START });
    const hours = 5;
    const total = 100_000;
    let footprintAfterWarmUp: unknown;
    let inWindow = 0;
    const end = START + hours * 3_600_000;
    for (let i = 0; i < total; i++) {
      const endedAtMs = START + Math.floor((i / total) * hours * 3_600_000);
      stats.requestStarted(endedAtMs - 100);
      stats.requestEnded(endedAtMs);
      stats.record(
        completedRequest({
          endedAtMs,
          model: models[Math.floor(random() * models.length)]!,
          replica: replicas[Math.floor(random() * replicas.length)]!,
          latencyMs: random() * 20_000,
          success: random() > 0.1,
          errorType: `type-${Math.floor(random() * 50)}`, // more types than an aggregate keeps
        }),
      );
      if (endedAtMs >= end - 290_000) inWindow += 1; // at a slot edge, the 30 slots cover 290 s
      if (i === total / 10) footprintAfterWarmUp = stats.footprint();
    }
    const footprint = stats.footprint();
    expect(footprint).toEqual(footprintAfterWarmUp);
    // 30 slots + since start, each 1 overall + 3 models + 4 replicas.
    expect(footprint).toMatchObject({ slots: 30, aggregates: 31 * 8 });
    expect(footprint.bytes).toBeLessThan(2_000_000);

    const snapshot = stats.snapshot(end);
    expect(stats.footprint()).toEqual(footprint);
    expect(snapshot.since_start.overall.requests.total).toBe(total);
    expect(snapshot.requests.total).toBe(inWindow);
    expect(snapshot.span_seconds).toBe(290);
    expect(Object.keys(snapshot.since_start.overall.errors.by_type)).toHaveLength(33); // 32 types + 'other'
    expectOnlyFiniteNumbers(snapshot);
  });
});
