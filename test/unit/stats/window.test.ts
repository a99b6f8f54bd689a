import { describe, expect, it } from 'vitest';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { completedRequest } from './completed-request-factory.js';

const START = 1_700_000_000_000;

/** A one-minute window of six 10-second slots. */
function minuteWindow(): RequestStatistics {
  return new RequestStatistics({ currency: 'USD', startedAtMs: START, windowMs: 60_000, slotMs: 10_000 });
}

describe('RequestStatistics: the sliding window', () => {
  it('drops a slot once it leaves the window; since-start keeps it', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 5000 }));
    expect(stats.snapshot(START + 59_999).requests.total).toBe(1);
    const later = stats.snapshot(START + 60_000);
    expect(later.requests.total).toBe(0);
    expect(later.requests.requests_per_second).toBe(0);
    expect(later.latency.p50).toBe(0);
    expect(later.by_model['llama']!.requests.total).toBe(0);
    expect(later.since_start.overall.requests.total).toBe(1);
  });

  it('measures rates over the span its slots cover', () => {
    const stats = minuteWindow();
    for (let i = 0; i < 11; i++) stats.record(completedRequest({ endedAtMs: START + 60_000 + i * 500, outputTokens: 10 }));
    const snapshot = stats.snapshot(START + 65_000);
    // The window's oldest slot starts at START + 10 s: it covers 55 s.
    expect(snapshot.span_seconds).toBe(55);
    expect(snapshot.requests.requests_per_second).toBe(0.2);
    expect(snapshot.slo.throughput.total).toBe(2);
    expect(snapshot.since_start.overall.requests.requests_per_second).toBe(Math.round((11 / 65) * 1000) / 1000);
  });

  it('resets a reused slot before writing to it', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 5000, model: 'old', latencyMs: 9000 }));
    stats.record(completedRequest({ endedAtMs: START + 65_000, latencyMs: 10 })); // same ring position
    const window = stats.snapshot(START + 65_000);
    expect(window.requests.total).toBe(1);
    expect(window.latency.max).toBe(0.01);
    expect(window.by_model['old']!.requests.total).toBe(0);
  });

  it('counts a request too old for the ring since start only', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 65_000 }));
    stats.record(completedRequest({ endedAtMs: START + 1000 })); // its position now holds a newer slot
    const snapshot = stats.snapshot(START + 65_000);
    expect(snapshot.requests.total).toBe(1);
    expect(snapshot.since_start.overall.requests.total).toBe(2);
  });

  it('leaves out records from the future of the snapshot time', () => {
    const stats = minuteWindow();
    stats.record(completedRequest({ endedAtMs: START + 30_000 }));
    expect(stats.snapshot(START + 15_000).requests.total).toBe(0);
    expect(stats.snapshot(START + 30_000).requests.total).toBe(1);
  });
});

describe('RequestStatistics: peak concurrency', () => {
  it('tracks the peak since start and within the window', () => {
    const stats = minuteWindow();
    for (let i = 0; i < 3; i++) stats.requestStarted(START + 1000);
    for (let i = 0; i < 3; i++) stats.requestEnded(START + 2000);
    stats.requestStarted(START + 80_000);
    expect(stats.snapshot(START + 30_000).requests.peak_concurrent).toBe(3);
    const later = stats.snapshot(START + 80_000);
    expect(later.requests.peak_concurrent).toBe(1);
    expect(later.since_start.peak_concurrent_requests).toBe(3);
    expect(later.since_start.peak_concurrent_requests).toBe(3);
  });

  it('carries requests in flight across slots without events', () => {
    const stats = minuteWindow();
    stats.requestStarted(START + 1000);
    stats.requestStarted(START + 1000);
    expect(stats.snapshot(START + 300_000).requests.peak_concurrent).toBe(2);
    stats.requestEnded(START + 300_000);
    stats.requestEnded(START + 300_000);
    expect(stats.snapshot(START + 300_000).requests.peak_concurrent).toBe(2);
    expect(stats.snapshot(START + 400_000).requests.peak_concurrent).toBe(0);
  });

  it('never goes below zero on an unmatched end', () => {
    const stats = minuteWindow();
    stats.requestEnded(START + 1000);
    stats.requestStarted(START + 2000);
    expect(stats.snapshot(START + 3000).requests.peak_concurrent).toBe(1);
  });
});
