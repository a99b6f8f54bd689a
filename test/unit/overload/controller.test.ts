import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { overloadConfigSchema } from '../../../src/overload/config.js';
import { OverloadController } from '../../../src/overload/controller.js';
import { DEFAULT_CIRCUIT_SETTINGS } from '../../../src/routing/circuit-breaker.js';
import { Replica } from '../../../src/routing/replica.js';

function replica(name: string, models: string[], waiting: number, kvCacheUsage?: number): Replica {
  const made = new Replica({ name, url: `http://10.0.0.${name.length}:8000`, models }, DEFAULT_CIRCUIT_SETTINGS);
  made.engineStats = { waiting, running: 2, kvCacheUsage, prefixCacheQueries: undefined, prefixCacheHits: undefined, scrapedAt: 0 };
  return made;
}

describe('OverloadController', () => {
  const config = overloadConfigSchema.parse({
    enabled: true,
    exitAfterMs: 1_000,
    concurrencyPerReplica: 2,
    pressure: { waitingPerReplica: { enter: 2, exit: 1 } },
    overload: { waitingPerReplica: { enter: 6, exit: 3 }, inFlightRatio: { enter: 3, exit: 2 } },
    shed: { criticalHardLimitPerReplica: 1, minRetryAfterSeconds: 1, maxRetryAfterSeconds: 30 },
  });

  it('judges each served model from its own replicas, and knows no other model', () => {
    let now = 0;
    const fleet = [replica('a', ['big'], 10), replica('bb', ['big', 'small'], 4), replica('ccc', ['small'], 0)];
    const controller = new OverloadController(config, { replicas: () => fleet }, pino({ level: 'silent' }), () => now);
    controller.evaluate();
    // big: (10 + 4) / 2 = 7 per replica > 6; small: (4 + 0) / 2 = 2, not above 2.
    expect(controller.levels()).toEqual([
      { model: 'big', level: 'overload' },
      { model: 'small', level: 'normal' },
    ]);
    expect(controller.decide('big', 'batch')?.action).toBe('shed');
    expect(controller.decide('small', 'batch')?.action).toBe('admitted');
    expect(controller.decide('made-up-by-a-client', 'batch')).toBeUndefined();
    const report = controller.report();
    expect(Object.keys(report)).toEqual(['big', 'small']);
    expect(report.big).toMatchObject({ level: 'overload', replicas: 2, signals: { waiting_per_replica: 7, kv_cache_usage_ratio: null, in_flight_ratio: 0 } });

    // An unhealthy replica no longer counts: big is judged on a alone.
    fleet[1]!.health = 'unhealthy';
    now = 100;
    controller.evaluate();
    expect(controller.report().big?.signals.waiting_per_replica).toBe(10);
  });

  it('computes Retry-After from the queue and the completions it saw, and sheds critical only past the hard limit', () => {
    let now = 0;
    const fleet = [replica('a', ['m'], 20)];
    const controller = new OverloadController(config, { replicas: () => fleet }, pino({ level: 'silent' }), () => now);
    controller.evaluate();
    // No completion seen yet: the longest wait.
    expect(controller.decide('m', 'batch')).toEqual({ level: 'overload', action: 'shed', retryAfterSeconds: 30 });
    // 4 completions in 2 s: 2 per second; 20 waiting → 10 s.
    for (let i = 0; i < 4; i++) {
      const end = controller.started('m', 'standard');
      now += 500;
      end();
      end(); // ending twice counts once
    }
    expect(controller.report().m?.completions_per_second).toBe(2);
    expect(controller.decide('m', 'batch')?.retryAfterSeconds).toBe(10);

    expect(controller.decide('m', 'critical')?.action).toBe('admitted');
    const endCritical = controller.started('m', 'critical');
    expect(controller.report().m?.in_flight).toEqual({ critical: 1, standard: 0, batch: 0 });
    expect(controller.decide('m', 'critical')?.action).toBe('shed');
    endCritical();
    expect(controller.decide('m', 'critical')?.action).toBe('admitted');

    controller.counted('m', 'batch', 'shed');
    controller.counted('m', 'standard', 'clamped');
    expect(controller.report().m?.decisions).toEqual({
      critical: { admitted: 0, clamped: 0, shed: 0 },
      standard: { admitted: 0, clamped: 1, shed: 0 },
      batch: { admitted: 0, clamped: 0, shed: 1 },
    });
  });
});
