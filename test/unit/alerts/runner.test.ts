import pino from 'pino';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { alertRuleSchema, alertsConfigSchema } from '../../../src/alerts/config.js';
import { AlertEngine } from '../../../src/alerts/engine.js';
import { AlertRunner } from '../../../src/alerts/runner.js';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import type { MetricsApiResponse } from '../../../src/telemetry/stats/snapshot.js';

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('AlertRunner', () => {
  it('evaluates on its interval only between start and stop, logging one line per transition', async () => {
    vi.useFakeTimers({ now: 0 });
    const { log, lines } = capture();
    const statistics = new RequestStatistics({ currency: 'USD', startedAtMs: 0 });
    let waiting = 0;
    const snapshot = (nowMs: number): MetricsApiResponse => {
      const base = statistics.snapshot(nowMs);
      return { ...base, requests: { ...base.requests, waiting } };
    };
    const engine = new AlertEngine([alertRuleSchema.parse({ name: 'Q', figure: 'requests.waiting', threshold: 5, forMs: 2_000 })]);
    const runner = new AlertRunner({ engine, settings: alertsConfigSchema.parse({ evaluationIntervalMs: 1_000 }), snapshot, log, internalErrors: new InternalErrors(log) });
    let evaluations = 0;
    const evaluate = engine.evaluate.bind(engine);
    engine.evaluate = (...args) => ((evaluations += 1), evaluate(...args));

    await vi.advanceTimersByTimeAsync(5_000);
    expect(evaluations).toBe(0);
    runner.start();
    runner.start(); // idempotent: one timer
    waiting = 9;
    await vi.advanceTimersByTimeAsync(4_000);
    expect(evaluations).toBe(4);
    waiting = 0;
    await vi.advanceTimersByTimeAsync(1_000);
    runner.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(evaluations).toBe(5);
    expect(lines.map((line) => [line.component ?? null, line.alert, line.from, line.to, line.level])).toEqual([
      [null, 'Q', 'inactive', 'pending', 30],
      [null, 'Q', 'pending', 'firing', 40],
      [null, 'Q', 'firing', 'resolved', 30],
    ]);
    expect(lines[1]!.msg).toBe('alert Q firing: Q: requests.waiting = 9 (> 5 for 2 s)');
  });

  it('reports a failing evaluation through the guard and keeps running', async () => {
    vi.useFakeTimers({ now: 0 });
    const { log, lines } = capture();
    const internalErrors = new InternalErrors(log);
    const counted: string[] = [];
    internalErrors.countInto({ inc: ({ stage }) => counted.push(stage) });
    const engine = new AlertEngine([]);
    const runner = new AlertRunner({
      engine,
      settings: alertsConfigSchema.parse({ evaluationIntervalMs: 100 }),
      snapshot: () => {
        throw new Error('broken');
      },
      log,
      internalErrors,
    });
    runner.start();
    await vi.advanceTimersByTimeAsync(300);
    runner.stop();
    expect(counted).toEqual(['alerts', 'alerts', 'alerts']);
    expect(lines.filter((line) => line.stage === 'alerts')).toHaveLength(3);
  });
});
