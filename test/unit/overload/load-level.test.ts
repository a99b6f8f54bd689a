import { describe, expect, it } from 'vitest';
import { overloadConfigSchema } from '../../../src/overload/config.js';
import { LoadLevelMachine, loadSignalsOf, type LoadSignals } from '../../../src/overload/load-level.js';

const config = overloadConfigSchema.parse({
  enabled: true,
  concurrencyPerReplica: 10,
  exitAfterMs: 1_000,
  pressure: { waitingPerReplica: { enter: 4, exit: 1 }, kvCacheUsage: { enter: 0.8, exit: 0.6 } },
  overload: { waitingPerReplica: { enter: 16, exit: 4 }, inFlightRatio: { enter: 1.5, exit: 1 } },
});

function signals(waitingPerReplica: number, kvCacheUsage?: number, inFlightRatio?: number): LoadSignals {
  return { waitingPerReplica, kvCacheUsage, inFlightRatio };
}

describe('loadSignalsOf', () => {
  it('averages the engine queue, takes the fullest KV cache and relates in-flight to the configured concurrency', () => {
    const replicas = [
      { waiting: 6, kvCacheUsage: 0.5, inFlight: 12 },
      { waiting: 2, kvCacheUsage: 0.9, inFlight: 8 },
      { waiting: 1, kvCacheUsage: undefined, inFlight: 10 },
    ];
    expect(loadSignalsOf(replicas, 10)).toEqual({ waitingPerReplica: 3, kvCacheUsage: 0.9, inFlightRatio: 1 });
    expect(loadSignalsOf(replicas, undefined)?.inFlightRatio).toBeUndefined();
    expect(loadSignalsOf([{ waiting: 0, kvCacheUsage: undefined, inFlight: 0 }], 4)?.kvCacheUsage).toBeUndefined();
    expect(loadSignalsOf([], 10)).toBeUndefined();
  });
});

describe('LoadLevelMachine (hysteresis)', () => {
  it('enters above enter at once, holds between exit and enter, and leaves only after exitAfterMs below exit', () => {
    const machine = new LoadLevelMachine(config, config.exitAfterMs, 0);
    expect(machine.step(signals(4), 0)).toBeUndefined(); // at enter is not above it
    expect(machine.level).toBe('normal');
    expect(machine.step(signals(5), 100)).toBe('normal');
    expect(machine.level).toBe('pressure');
    expect(machine.since).toBe(100);
    // Between exit (1) and enter (4): held however long.
    for (let t = 200; t <= 5_000; t += 400) expect(machine.step(signals(2), t)).toBeUndefined();
    expect(machine.level).toBe('pressure');
    // Below exit, but not for long enough; a blip above exit restarts the clock.
    machine.step(signals(0.5), 5_100);
    machine.step(signals(0.5), 5_900);
    machine.step(signals(1.5), 6_000);
    machine.step(signals(0.5), 6_100);
    machine.step(signals(0.5), 7_000);
    expect(machine.level).toBe('pressure');
    expect(machine.step(signals(0.5), 7_100)).toBe('pressure');
    expect(machine.level).toBe('normal');
  });

  it('skips straight to overload and steps down through pressure, each level judged on its own band', () => {
    const machine = new LoadLevelMachine(config, config.exitAfterMs, 0);
    expect(machine.step(signals(20), 0)).toBe('normal');
    expect(machine.level).toBe('overload');
    // Below overload's exit (4) but above pressure's (1): after exitAfterMs, pressure.
    machine.step(signals(3), 100);
    machine.step(signals(3), 1_000);
    expect(machine.level).toBe('overload');
    expect(machine.step(signals(3), 1_100)).toBe('overload');
    expect(machine.level).toBe('pressure');
    // Then below pressure's exit for exitAfterMs: normal.
    machine.step(signals(0), 1_200);
    expect(machine.step(signals(0), 2_200)).toBe('pressure');
    expect(machine.level).toBe('normal');
  });

  it('enters on any signal and leaves only when every signal is below its exit', () => {
    const machine = new LoadLevelMachine(config, config.exitAfterMs, 0);
    machine.step(signals(0, 0.85), 0);
    expect(machine.level).toBe('pressure');
    machine.step(signals(0, 0.2, 1.6), 10);
    expect(machine.level).toBe('overload');
    // Queue fine, in-flight still above its overload exit: stays.
    machine.step(signals(0, 0.2, 1.2), 20);
    machine.step(signals(0, 0.2, 1.2), 5_000);
    expect(machine.level).toBe('overload');
    // A signal nobody reports (no KV figure) counts as below.
    machine.step(signals(0, undefined, 0.5), 5_010);
    machine.step(signals(0, undefined, 0.5), 6_010);
    expect(machine.level).toBe('normal');
  });
});

describe('overload config', () => {
  it('is off by default with a waiting-queue band per level, and refuses a band without hysteresis', () => {
    const defaults = overloadConfigSchema.parse({});
    expect(defaults.enabled).toBe(false);
    expect(defaults.pressure.waitingPerReplica).toEqual({ enter: 8, exit: 2 });
    expect(defaults.shed.classes).toEqual(['batch']);
    const flat = overloadConfigSchema.safeParse({ pressure: { waitingPerReplica: { enter: 4, exit: 4 } } });
    expect(flat.success).toBe(false);
    expect(flat.error?.issues.map((issue) => issue.path.join('.'))).toContain('pressure.waitingPerReplica.exit');
    const noConcurrency = overloadConfigSchema.safeParse({ overload: { inFlightRatio: { enter: 2, exit: 1 } } });
    expect(noConcurrency.error?.issues.map((issue) => issue.message)).toContain('needs overload.concurrencyPerReplica');
    expect(overloadConfigSchema.safeParse({ shed: { classes: ['critical'] } }).success).toBe(false);
  });
});
