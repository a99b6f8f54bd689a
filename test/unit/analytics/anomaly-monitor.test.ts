import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../src/alerts/engine.js';
import { anomalyConfigSchema } from '../../../src/analytics/anomaly/config.js';
import { AnomalyMonitor, type ScopeRef, type SlotObservation } from '../../../src/analytics/anomaly/monitor.js';
import { anomaliesReport, anomalyAlertConditions } from '../../../src/analytics/anomaly/report.js';
import { AnomalyRunner, type ReplicaView } from '../../../src/analytics/anomaly/runner.js';
import type { AnomalySignal } from '../../../src/analytics/anomaly/signals.js';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { AggregateSet } from '../../../src/telemetry/stats/aggregate-set.js';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { buildMetricsSnapshot } from '../../../src/telemetry/stats/snapshot.js';
import { completedRequest } from '../stats/completed-request-factory.js';

const SLOT = 10_000;
const settings = {
  ...anomalyConfigSchema.parse({}),
  detector: 'ewma' as const,
  warmupSlots: 10,
  confirmSlots: 2,
  clearSlots: 3,
  seasonal: { enabled: false, minDays: 2 },
};

const replica = (name: string): ScopeRef => ({ kind: 'replica', name });
const model = (name: string): ScopeRef => ({ kind: 'model', name });

/** A calm value with a small alternating wobble (±2 %), or `factor` times it. */
function value(slot: number, level: number, factor = 1): number {
  return level * factor * (slot % 2 === 0 ? 1.02 : 0.98);
}

/** Feeds slots [from, to) with the given series per scope and signal; returns the changes with their slot. */
function feed(
  monitor: AnomalyMonitor,
  from: number,
  to: number,
  series: Array<{ scope: ScopeRef; signal: AnomalySignal; level: number; factor?: (slot: number) => number }>,
  servedModels = new Map<string, readonly string[]>(),
) {
  const changes = [];
  for (let slot = from; slot < to; slot++) {
    const observations: SlotObservation[] = series.map(({ scope, signal, level, factor }) => ({ scope, signal, value: value(slot, level, factor?.(slot) ?? 1) }));
    for (const change of monitor.observeSlot(slot * SLOT, observations, servedModels)) changes.push({ slot, ...change });
  }
  return changes;
}

describe('AnomalyMonitor', () => {
  it('reports a replica whose TTFT p95 doubles: what moved, which way, how far, since when', () => {
    const monitor = new AnomalyMonitor(settings, SLOT);
    const changes = feed(monitor, 0, 60, [{ scope: replica('r1'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot >= 40 ? 2 : 1) }]);
    expect(changes.map(({ slot, change }) => [slot, change])).toEqual([[41, 'started']]);
    const finding = monitor.active()[0]!;
    expect(finding).toMatchObject({ signal: 'ttft_p95', scope: 'replica', name: 'r1', direction: 'up', severity: 'warning', unit: 'seconds', sinceMs: 40 * SLOT });
    // Out of band the EWMA baseline creeps at α/4 towards the new level: two slots in, it has moved a little.
    expect(finding.value / finding.baseline).toBeGreaterThan(1.6);
    expect(finding.value / finding.baseline).toBeLessThan(2.1);
    expect(finding.baseline).toBeGreaterThan(0.2);
    expect(finding.baseline).toBeLessThan(0.24);
    expect(finding.sigma).toBeGreaterThan(settings.thresholdSigma);
  });

  it('needs confirmSlots out-of-band slots in a row: one odd slot is no finding', () => {
    const monitor = new AnomalyMonitor(settings, SLOT);
    const changes = feed(monitor, 0, 60, [{ scope: replica('r1'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot === 40 ? 5 : 1) }]);
    expect(changes).toEqual([]);
  });

  it('resolves a finding after clearSlots calm slots, and counts a slot without a value as calm', () => {
    const monitor = new AnomalyMonitor(settings, SLOT);
    feed(monitor, 0, 45, [{ scope: replica('r1'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot >= 40 ? 3 : 1) }]);
    expect(monitor.active()).toHaveLength(1);
    // The replica gets no streams any more: no TTFT values at all.
    const changes = [];
    for (let slot = 45; slot < 50; slot++) changes.push(...monitor.observeSlot(slot * SLOT, []).map((change) => ({ slot, ...change })));
    expect(changes.map(({ slot, change }) => [slot, change])).toEqual([[47, 'resolved']]);
    expect(monitor.active()).toEqual([]);
    expect(monitor.recent()[0]).toMatchObject({ signal: 'ttft_p95', name: 'r1', resolvedAtMs: 48 * SLOT });
  });

  it('calls a change of demand info, and a degradation that improves info too', () => {
    const monitor = new AnomalyMonitor(settings, SLOT);
    feed(monitor, 0, 50, [
      { scope: model('m'), signal: 'request_rate', level: 5, factor: (slot) => (slot >= 40 ? 3 : 1) },
      { scope: model('m'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot >= 40 ? 0.3 : 1) },
      { scope: model('m'), signal: 'decode_tokens_per_second', level: 500, factor: (slot) => (slot >= 40 ? 0.2 : 1) },
    ]);
    const bySignal = Object.fromEntries(monitor.active().map((finding) => [finding.signal, [finding.direction, finding.severity]]));
    expect(bySignal).toEqual({ request_rate: ['up', 'info'], ttft_p95: ['down', 'info'], decode_tokens_per_second: ['down', 'warning'] });
  });

  it('groups a replica’s TTFT and queue findings into one incident with its model, not with an unrelated replica or a later finding', () => {
    const monitor = new AnomalyMonitor({ ...settings, correlationWindowMs: 120_000 }, SLOT);
    const served = new Map<string, readonly string[]>([
      ['r1', ['m']],
      ['r2', ['m']],
      ['r9', ['other']],
    ]);
    feed(
      monitor,
      0,
      80,
      [
        { scope: replica('r1'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot >= 40 ? 3 : 1) },
        { scope: replica('r1'), signal: 'engine_queue', level: 2, factor: (slot) => (slot >= 42 ? 10 : 1) },
        { scope: model('m'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot >= 44 ? 2 : 1) },
        // Same time, but serves another model: its own incident.
        { scope: replica('r9'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot >= 40 ? 3 : 1) },
        // Same model, but starts 5 minutes later, beyond the 2-minute window.
        { scope: replica('r2'), signal: 'error_rate', level: 0.01, factor: (slot) => (slot >= 70 ? 30 : 1) },
      ],
      served,
    );
    const incidents = monitor.incidents().map((incident) => incident.findings.map((finding) => `${finding.signal}@${finding.name}`).sort());
    expect(incidents.sort()).toEqual([['engine_queue@r1', 'ttft_p95@m', 'ttft_p95@r1'], ['error_rate@r2'], ['ttft_p95@r9']].sort());
    const report = anomaliesReport(monitor, settings, SLOT, 80 * SLOT);
    const ttft = report.active.find((finding) => finding.signal === 'ttft_p95' && finding.name === 'r1')!;
    expect(ttft.related.map((other) => `${other.signal}@${other.name}`).sort()).toEqual(['engine_queue@r1', 'ttft_p95@m']);
    expect(ttft.since).toBe(new Date(40 * SLOT).toISOString());
    expect(ttft.ratio).toBeGreaterThan(1.5);
    expect(report.incidents).toHaveLength(3);
  });

  it('keeps one fixed-size track per signal × scope and ignores scopes beyond maxScopes (counted)', () => {
    const monitor = new AnomalyMonitor({ ...settings, maxScopes: 3 }, SLOT);
    const scopes = Array.from({ length: 10 }, (_, i) => replica(`r${i}`));
    for (let slot = 0; slot < 20; slot++) {
      monitor.observeSlot(
        slot * SLOT,
        scopes.flatMap((scope) => (['ttft_p95', 'request_rate'] as const).map((signal) => ({ scope, signal, value: value(slot, 1) }))),
      );
    }
    expect(monitor.trackCount).toBe(6);
    expect(monitor.scopesDropped).toBe(7);
    monitor.retainScopes([replica('r0')]);
    expect(monitor.trackCount).toBe(2);
    expect(monitor.scopesDropped).toBe(0);
  });

  it('keeps at most recentFindings resolved findings', () => {
    const monitor = new AnomalyMonitor({ ...settings, recentFindings: 2, clearSlots: 1 }, SLOT);
    let slot = 0;
    for (let round = 0; round < 4; round++) {
      feed(monitor, slot, slot + 30, [{ scope: replica('r1'), signal: 'engine_queue', level: 2, factor: (s) => (s >= slot + 25 && s < slot + 28 ? 20 : 1) }]);
      slot += 30;
    }
    expect(monitor.recent().length).toBe(2);
  });
});

describe('findings as built-in alerts', () => {
  it('fire through the AlertEngine with severity warning or info; info leaves the JSON status ok', () => {
    const monitor = new AnomalyMonitor(settings, SLOT);
    feed(monitor, 0, 50, [
      { scope: replica('r1'), signal: 'ttft_p95', level: 0.2, factor: (slot) => (slot >= 40 ? 3 : 1) },
      { scope: model('m'), signal: 'request_rate', level: 5, factor: (slot) => (slot >= 40 ? 4 : 1) },
    ]);
    const engine = new AlertEngine([]);
    const set = new AggregateSet('cumulative');
    const scope = { set, spanMs: 1000, peakConcurrency: 0 };
    const snapshot = buildMetricsSnapshot({ nowMs: 1000, startedAtMs: 0, windowMs: 60_000, currency: 'USD', window: scope, sinceStart: scope, replicas: [] });
    const transitions = engine.evaluate(snapshot, 500_000, anomalyAlertConditions(monitor, settings.thresholdSigma));
    expect(transitions.map((transition) => [transition.instance.rule.name, transition.instance.scopeName, transition.to]).sort()).toEqual([
      ['RequestRateAnomaly', 'm', 'firing'],
      ['TtftP95Anomaly', 'r1', 'firing'],
    ]);
    const firing = engine.firing();
    expect(firing.map((alert) => [alert.name, alert.severity, alert.scope, alert.replica ?? alert.model])).toEqual([
      ['TtftP95Anomaly', 'warning', 'replica', 'r1'],
      ['RequestRateAnomaly', 'info', 'model', 'm'],
    ]);
    expect(firing[0]!.message).toMatch(/^TTFT p95 moved up to 0\.\d+ seconds \(\d\.\d+× its baseline 0\.\d+\) since 1970-01-01T00:06:40\.000Z/);
    const infoOnly = buildMetricsSnapshot({ nowMs: 1000, startedAtMs: 0, windowMs: 60_000, currency: 'USD', window: scope, sinceStart: scope, replicas: [], alerts: firing.slice(1) });
    expect(infoOnly.status).toBe('ok');
    // Resolved findings resolve their alerts at the next evaluation.
    expect(engine.evaluate(snapshot, 510_000, []).map((transition) => transition.to)).toEqual(['resolved', 'resolved']);
  });
});

describe('AnomalyRunner', () => {
  it('reads only closed slots of the statistics, per model and per replica, with the engine queue sampled while each slot was open', () => {
    const statistics = new RequestStatistics({ windowMs: 60_000, slotMs: SLOT, currency: 'USD', startedAtMs: 0 });
    const monitor = new AnomalyMonitor({ ...settings, minSamples: 3 }, SLOT);
    let waiting = 0;
    const replicas: ReplicaView[] = [{ name: 'r1', models: new Set(['m']), get engineStats() { return { waiting }; } }];
    const runner = new AnomalyRunner({ monitor, statistics, replicas: () => replicas, settings: { sampleIntervalMs: 2_000, minSamples: 3 }, log: pino({ level: 'silent' }), internalErrors: new InternalErrors(pino({ level: 'silent' })) });
    const t0 = 1_000 * SLOT;
    runner.tick(t0 + 1); // starts with the slot open now
    for (let i = 0; i < 4; i++) statistics.record(completedRequest({ model: 'm', replica: 'r1', endedAtMs: t0 + 1_000 + i, ttftMs: 200 }));
    waiting = 4;
    runner.tick(t0 + 5_000);
    expect(monitor.trackCount).toBe(0);
    runner.tick(t0 + SLOT + 100);
    const tracked = monitor.tracked().map((entry) => `${entry.signal}@${entry.scope.kind}:${entry.scope.name}`).sort();
    expect(tracked).toEqual(
      ['decode_tokens_per_second', 'engine_queue', 'error_rate', 'request_rate', 'tpot', 'ttft_p95'].flatMap((signal) => [`${signal}@model:m`, `${signal}@replica:r1`]).sort(),
    );
    expect(monitor.lastSlotEnd).toBe(t0 + SLOT);
  });
});
