import { describe, expect, it } from 'vitest';
import { evaluate, renderMarkdown } from '../../../src/analytics/anomaly/eval/harness.js';
import { DIURNAL, SlotWorkload, STATIONARY } from '../../../src/analytics/anomaly/eval/workload.js';
import { parseConfig } from '../../../src/config/load.js';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { completedRequest } from '../stats/completed-request-factory.js';

const SLOT = 10_000;

describe('the evaluation workload', () => {
  it('draws the same series from the same seed, and another from another seed', () => {
    const series = (seed: number) => {
      const workload = new SlotWorkload(seed, DIURNAL, SLOT, 20);
      return Array.from({ length: 50 }, (_, slot) => workload.slot(slot * SLOT));
    };
    expect(series(3)).toEqual(series(3));
    expect(series(3)).not.toEqual(series(4));
  });

  it('labels its shifts truly: a TTFT ×2 doubles the slot p95, a queue ×10 raises the queue, the load follows the day', () => {
    const healthy = new SlotWorkload(5, STATIONARY, SLOT, 20);
    const degraded = new SlotWorkload(5, STATIONARY, SLOT, 20);
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const calm = Array.from({ length: 200 }, (_, slot) => healthy.slot(slot * SLOT));
    const bad = Array.from({ length: 200 }, (_, slot) => degraded.slot(slot * SLOT, { ttftFactor: () => 2, queueFactor: () => 10 }));
    const ratio = median(bad.map((slot) => slot.ttft_p95!)) / median(calm.map((slot) => slot.ttft_p95!));
    expect(ratio).toBeGreaterThan(1.8);
    expect(ratio).toBeLessThan(2.2);
    const meanQueue = (slots: typeof calm) => slots.reduce((sum, slot) => sum + slot.engine_queue!, 0) / slots.length;
    expect(meanQueue(bad)).toBeGreaterThan(5 * meanQueue(calm));
    // 5 req/s on average: ×0.3 at 03:00 UTC, ×1.7 at 15:00 UTC.
    expect(DIURNAL.rate(3 * 3_600_000)).toBeCloseTo(1.5, 5);
    expect(DIURNAL.rate(15 * 3_600_000)).toBeCloseTo(8.5, 5);
  });
});

describe('evaluate', () => {
  it('is reproducible: the same seed gives the same report, rows per detector and shift', () => {
    const options = { seed: 2, trials: 2, days: 1, slotMs: SLOT, settings: {} };
    const report = evaluate(options);
    expect(evaluate(options)).toEqual(report);
    expect(report.detection).toHaveLength(6 * 3);
    expect(report.falseAlarms).toHaveLength(2 * 3 * 2);
    // A ×5 step is plain to the default detector.
    expect(report.detection.find((row) => row.scenario === 'TTFT p95 step ×5' && row.detector === 'cusum')!.detectionRate).toBe(1);
    expect(renderMarkdown(report)).toContain('| TTFT p95 step ×2 | cusum |');
  }, 60_000);
});

describe('RequestStatistics.closedSlot', () => {
  it('gives a slot only once it is closed and while the ring holds it; a slot without requests is empty', () => {
    const statistics = new RequestStatistics({ windowMs: 30_000, slotMs: SLOT, currency: 'USD', startedAtMs: 0 });
    const t0 = 100 * SLOT;
    statistics.record(completedRequest({ model: 'm', replica: 'r', endedAtMs: t0 + 5 }));
    expect(statistics.closedSlot(100, t0 + 9_000)).toBeUndefined();
    const closed = statistics.closedSlot(100, t0 + SLOT + 1);
    expect(closed?.byReplica.get('r')?.total).toBe(1);
    expect(statistics.closedSlot(101, t0 + 2 * SLOT + 1)?.overall.total).toBe(0);
    statistics.record(completedRequest({ model: 'm', replica: 'r', endedAtMs: t0 + 3 * SLOT + 5 }));
    // Slot 103 took slot 100's place in the three-slot ring.
    expect(statistics.closedSlot(100, t0 + 4 * SLOT)).toBeUndefined();
    expect(statistics.closedSlot(103, t0 + 4 * SLOT)?.overall.total).toBe(1);
  });

  it('is configured by metrics.slotMs, of which metrics.windowMs must be a whole multiple', () => {
    const replicas = [{ url: 'http://127.0.0.1:9', models: ['m'] }];
    expect(parseConfig({ replicas, auth: { enabled: false }, metrics: { windowMs: 60_000, slotMs: 1_000 } }).metrics.slotMs).toBe(1_000);
    expect(() => parseConfig({ replicas, auth: { enabled: false }, metrics: { windowMs: 60_000, slotMs: 7_000 } })).toThrow(/metrics\.windowMs.*whole multiple of metrics\.slotMs/s);
  });
});
