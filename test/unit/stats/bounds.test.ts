import { describe, expect, it } from 'vitest';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { completedRequest, numbersIn, seededRandom } from './completed-request-factory.js';

const START = 1_700_000_000_000;
const IDLE = { waiting: 0, running: 0 };

function expectOnlyFiniteNumbers(value: unknown): void {
  const json = JSON.stringify(value);
  expect(JSON.parse(json)).toEqual(value); // nothing undefined, nothing lost
  for (const [path, number] of numbersIn(value)) expect(Number.isFinite(number), path).toBe(true);
}

describe('RequestStatistics: no NaN or Infinity in the JSON', () => {
  it('with nothing recorded, at the very start (zero span)', () => {
    const snapshot = new RequestStatistics({ currency: 'USD', startedAtMs: START }).snapshot(START, IDLE);
    expectOnlyFiniteNumbers(snapshot);
    expect(snapshot.window.overall.requests).toMatchObject({
      error_rate_percent: null,
      success_rate_percent: null,
      requests_per_second: null,
    });
    expect(snapshot.window.overall.cost.cost_per_1k_tokens).toBeNull();
  });

  it('with a single request in a zero-length span', () => {
    const stats = new RequestStatistics({ currency: 'USD', startedAtMs: START });
    stats.record(completedRequest({ endedAtMs: START }));
    const snapshot = stats.snapshot(START, IDLE);
    expectOnlyFiniteNumbers(snapshot);
    expect(snapshot.window.overall.requests.requests_per_second).toBeNull();
    expect(snapshot.window.overall.latency.latency_p99).toBe(200);
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
    const snapshot = stats.snapshot(START - 100, IDLE);
    expectOnlyFiniteNumbers(snapshot);
    expect(snapshot.since_start.overall.requests.total_requests).toBe(2);
    expect(snapshot.since_start.overall.latency.latency_mean).toBe(0);
    expect(snapshot.since_start.overall.tokens.total_input_tokens).toBe(100);
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

    const snapshot = stats.snapshot(end, IDLE);
    expect(stats.footprint()).toEqual(footprint);
    expect(snapshot.since_start.overall.requests.total_requests).toBe(total);
    expect(snapshot.window.overall.requests.total_requests).toBe(inWindow);
    expect(snapshot.window.span_seconds).toBe(290);
    expect(Object.keys(snapshot.since_start.overall.errors.by_type)).toHaveLength(33); // 32 types + 'other'
    expectOnlyFiniteNumbers(snapshot);
  });
});
