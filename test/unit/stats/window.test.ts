import { describe, expect, it } from 'vitest';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { completedRequest } from './completed-request-factory.js';

const START = 1_700_000_000_000;
const IDLE = { waiting: 0, running: 0 };

/** A one-minute window of six 10-second slots. */
function minuteWindow(): RequestStatistics {
  return new RequestStatistics({ currency: 'USD', startedAtMs: START, windowMs: 60_000, slotMs: 10_000 });
}

describe('RequestStatistics: the sliding window', () => {
  it('drops a slot once it leaves the window; since-start keeps it', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 5000 }));
    expect(stats.snapshot(START + 59_999, IDLE).window.overall.requests.total_requests).toBe(1);
    const later = stats.snapshot(START + 60_000, IDLE);
    expect(later.window.overall.requests.total_requests).toBe(0);
    expect(later.window.overall.requests.requests_per_second).toBe(0);
    expect(later.window.overall.latency.latency_p50).toBeNull();
    expect(later.window.by_model['llama']!.requests.total_requests).toBe(0);
    expect(later.since_start.overall.requests.total_requests).toBe(1);
  });

  it('measures rates over the span its slots cover', () => {
    const stats = minuteWindow();
    for (let i = 0; i < 11; i++) stats.record(completedRequest({ endedAtMs: START + 60_000 + i * 500, outputTokens: 10 }));
    const snapshot = stats.snapshot(START + 65_000, IDLE);
    // The window's oldest slot starts at START + 10 s: it covers 55 s.
    expect(snapshot.window.span_seconds).toBe(55);
    expect(snapshot.window.overall.requests.requests_per_second).toBe(0.2);
    expect(snapshot.window.overall.slo.total_throughput).toBe(2);
    expect(snapshot.since_start.overall.requests.requests_per_second).toBe(Math.round((11 / 65) * 1000) / 1000);
  });

  it('resets a reused slot before writing to it', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 5000, model: 'old', latencyMs: 9000 }));
    stats.record(completedRequest({ endedAtMs: START + 65_000, latencyMs: 10 })); // same ring position
    const window = stats.snapshot(START + 65_000, IDLE).window;
    expect(window.overall.requests.total_requests).toBe(1);
    expect(window.overall.latency.latency_max).toBe(10);
    expect(window.by_model['old']!.requests.total_requests).toBe(0);
  });

  it('counts a request too old for the ring since start only', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 65_000 }));
    stats.record(completedRequest({ endedAtMs: START + 1000 })); // its position now holds a newer slot
    const snapshot = stats.snapshot(START + 65_000, IDLE);
    expect(snapshot.window.overall.requests.total_requests).toBe(1);
    expect(snapshot.since_start.overall.requests.total_requests).toBe(2);
  });

  it('leaves out records from the future of the snapshot time', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 30_000 }));
    expect(stats.snapshot(START + 15_000, IDLE).window.overall.requests.total_requests).toBe(0);
    expect(stats.snapshot(START + 30_000, IDLE).window.overall.requests.total_requests).toBe(1);
  });
});

describe('RequestStatistics: peak concurrency', () => {
  it('tracks the peak since start and within the window', () => {
    const stats = minuteWindow();
    for (let i = 0; i < 3; i++) stats.requestStarted(START + 1000);
    for (let i = 0; i < 3; i++) stats.requestEnded(START + 2000);
    stats.requestStarted(START + 80_000);
    expect(stats.snapshot(START + 30_000, IDLE).window.peak_concurrent_requests).toBe(3);
    const later = stats.snapshot(START + 80_000, IDLE);
    expect(later.window.peak_concurrent_requests).toBe(1);
    expect(later.peak_concurrent_requests).toBe(3);
    expect(later.since_start.peak_concurrent_requests).toBe(3);
  });

  it('carries requests in flight across slots without events', () => {
    const stats = minuteWindow();
    stats.requestStarted(START + 1000);
    stats.requestStarted(START + 1000);
    expect(stats.snapshot(START + 300_000, IDLE).window.peak_concurrent_requests).toBe(2);
    stats.requestEnded(START + 300_000);
    stats.requestEnded(START + 300_000);
    expect(stats.snapshot(START + 300_000, IDLE).window.peak_concurrent_requests).toBe(2);
    expect(stats.snapshot(START + 400_000, IDLE).window.peak_concurrent_requests).toBe(0);
  });

  it('never goes below zero on an unmatched end', () => {
    const stats = minuteWindow();
    stats.requestEnded(START + 1000);
    stats.requestStarted(START + 2000);
    expect(stats.snapshot(START + 3000, IDLE).window.peak_concurrent_requests).toBe(1);
  });
});
