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
      end(true);
      end(true); // ending twice counts once
    }
    // A request refused further on (a 429) leaves, but is no completion.
    controller.started('m', 'standard')(false);
    expect(controller.report().m?.in_flight.standard).toBe(0);
    expect(controller.report().m?.completions_per_second).toBe(2);
    expect(controller.decide('m', 'batch')?.retryAfterSeconds).toBe(10);

    expect(controller.decide('m', 'critical')?.action).toBe('admitted');
    const endCritical = controller.started('m', 'critical');
    expect(controller.report().m?.in_flight).toEqual({ critical: 1, standard: 0, batch: 0 });
    expect(controller.decide('m', 'critical')?.action).toBe('shed');
    endCritical(true);
    expect(controller.decide('m', 'critical')?.action).toBe('admitted');

    controller.counted('m', 'batch', 'shed');
    controller.counted('m', 'standard', 'clamped');
    expect(controller.report().m?.decisions).toEqual({
      critical: { admitted: 0, clamped: 0, shed: 0 },
      standard: { admitted: 0, clamped: 1, shed: 0 },
      batch: { admitted: 0, clamped: 0, shed: 1 },
    });
  });

  describe('the gateway queue', () => {
    const queued = overloadConfigSchema.parse({
      enabled: true,
      exitAfterMs: 0,
      pressure: { waitingPerReplica: { enter: 2, exit: 1 } },
      overload: { waitingPerReplica: { enter: 6, exit: 3 } },
      queue: { enabled: true, maxLength: 3, deadlineMs: { standard: 60_000, batch: 60_000 }, weights: { standard: 2, batch: 1 } },
    });

    function setup(waiting: number) {
      const fleet = [replica('a', ['m'], waiting)];
      const controller = new OverloadController(queued, { replicas: () => fleet }, pino({ level: 'silent' }), () => 0);
      controller.evaluate();
      return { fleet, controller };
    }

    it('holds in overload, refuses beyond maxLength, releases fairly as requests complete once out of overload', async () => {
      const { fleet, controller } = setup(10);
      expect(controller.decide('m', 'batch')?.action).toBe('queued');
      const order: string[] = [];
      const hold = (priority: 'standard' | 'batch', tenant: string, name: string) => {
        const held = controller.hold('m', priority, tenant);
        void held.outcome.then((outcome) => order.push(`${name}:${outcome}`));
        return held;
      };
      const endRunning = controller.started('m', 'critical');
      hold('batch', 'nightly', 'b1');
      hold('batch', 'nightly', 'b2');
      hold('standard', 'web', 's1');
      hold('standard', 'web', 's2');
      await Promise.resolve();
      expect(order).toEqual(['s2:full']);
      expect(controller.report().m?.queued).toBe(3);

      // A completion during overload releases nobody.
      endRunning(true);
      await Promise.resolve();
      expect(order).toEqual(['s2:full']);

      // Pressure: each completion releases the next one by weighted fairness (standard first: twice the weight).
      fleet[0]!.engineStats = { ...fleet[0]!.engineStats!, waiting: 2.5 };
      controller.evaluate();
      expect(controller.levels()).toEqual([{ model: 'm', level: 'pressure' }]);
      // Nothing in flight: the evaluation itself releases one, so the queue cannot stall.
      await Promise.resolve();
      expect(order).toEqual(['s2:full', 's1:released']);
      controller.started('m', 'standard')(true);
      await Promise.resolve();
      expect(order).toEqual(['s2:full', 's1:released', 'b1:released']);
      // Normal: one per replica per evaluation (here one replica), never the whole queue at once.
      hold('batch', 'nightly', 'b3');
      fleet[0]!.engineStats = { ...fleet[0]!.engineStats!, waiting: 0 };
      controller.evaluate();
      await Promise.resolve();
      expect(order).toEqual(['s2:full', 's1:released', 'b1:released', 'b2:released']);
      controller.evaluate();
      await Promise.resolve();
      expect(order).toEqual(['s2:full', 's1:released', 'b1:released', 'b2:released', 'b3:released']);
      expect(controller.report().m?.queued).toBe(0);
    });

    it('with a critical reserve, holds lower classes at any level while it is taken and releases them into the room completions leave', async () => {
      const reserved = overloadConfigSchema.parse({ ...queued, concurrencyPerReplica: 3, criticalReservePerReplica: 1 });
      const fleet = [replica('a', ['m'], 0)];
      const controller = new OverloadController(reserved, { replicas: () => fleet }, pino({ level: 'silent' }), () => 0);
      controller.evaluate();
      expect(controller.levels()).toEqual([{ model: 'm', level: 'normal' }]);
      const endStandard = controller.started('m', 'standard');
      expect(controller.decide('m', 'batch')?.action).toBe('admitted');
      const endCritical = controller.started('m', 'critical');
      // Two in flight of 3 - 1: the lower classes wait, critical still goes on.
      expect(controller.decide('m', 'batch')).toMatchObject({ level: 'normal', action: 'queued' });
      expect(controller.decide('m', 'critical')?.action).toBe('admitted');
      const order: string[] = [];
      for (const name of ['s1', 's2']) void controller.hold('m', 'standard', 'web').outcome.then((outcome) => order.push(`${name}:${outcome}`));
      // Normal releases one per replica per evaluation, but not into the reserve.
      controller.evaluate();
      await Promise.resolve();
      expect(order).toEqual([]);
      // A completion frees one slot: one waiting request takes it, the next still waits.
      endCritical(true);
      await Promise.resolve();
      expect(order).toEqual(['s1:released']);
      controller.started('m', 'standard');
      controller.evaluate();
      await Promise.resolve();
      expect(order).toEqual(['s1:released']);
      endStandard(true);
      await Promise.resolve();
      expect(order).toEqual(['s1:released', 's2:released']);
    });

    it('sheds a request whose deadline passed, lets a cancelled one leave, and sheds the rest when stopped', async () => {
      const { controller } = setup(10);
      const shortDeadline = new OverloadController(
        overloadConfigSchema.parse({ ...queued, queue: { ...queued.queue, deadlineMs: { standard: 60_000, batch: 20 } } }),
        { replicas: () => [replica('a', ['m'], 10)] },
        pino({ level: 'silent' }),
        () => 0,
      );
      shortDeadline.evaluate();
      expect(await shortDeadline.hold('m', 'batch', 't').outcome).toBe('expired');

      const cancelled = controller.hold('m', 'standard', 't');
      const waiting = controller.hold('m', 'standard', 't');
      cancelled.cancel();
      expect(await cancelled.outcome).toBe('cancelled');
      expect(controller.report().m?.queued).toBe(1);
      controller.stop();
      expect(await waiting.outcome).toBe('expired');
      // Retry-After counts the gateway's queue too: 10 waiting in the engine and nothing completing yet.
      expect(controller.retryAfterFor('m')).toBe(queued.shed.maxRetryAfterSeconds);
    });
  });
});
