import { describe, expect, it } from 'vitest';
import { admissionDecision, CompletionRate, lowerClassHasRoom, overloadDecision, retryAfterSeconds } from '../../../src/overload/admission.js';
import { overloadConfigSchema, PRIORITY_CLASSES } from '../../../src/overload/config.js';
import { priorityOf } from '../../../src/overload/stage.js';
import type { Principal } from '../../../src/auth/key-ring.js';

const config = overloadConfigSchema.parse({ enabled: true, shed: { criticalHardLimitPerReplica: 4 } });

describe('overloadDecision (class ordering)', () => {
  it('admits everyone when normal', () => {
    for (const priority of PRIORITY_CLASSES) expect(overloadDecision(config, 'normal', priority, 100, 1)).toBe('admitted');
  });

  it('under pressure clamps the lower classes and never critical', () => {
    expect(overloadDecision(config, 'pressure', 'batch', 0, 1)).toBe('clamped');
    expect(overloadDecision(config, 'pressure', 'standard', 0, 1)).toBe('clamped');
    expect(overloadDecision(config, 'pressure', 'critical', 100, 1)).toBe('admitted');
  });

  it('in overload sheds batch, clamps standard, and sheds critical only beyond the hard limit', () => {
    expect(overloadDecision(config, 'overload', 'batch', 0, 2)).toBe('shed');
    expect(overloadDecision(config, 'overload', 'standard', 0, 2)).toBe('clamped');
    // 4 per replica over 2 replicas: the 8th critical request is admitted, a 9th would exceed it.
    expect(overloadDecision(config, 'overload', 'critical', 7, 2)).toBe('admitted');
    expect(overloadDecision(config, 'overload', 'critical', 8, 2)).toBe('shed');
    const noHardLimit = overloadConfigSchema.parse({ enabled: true });
    expect(overloadDecision(noHardLimit, 'overload', 'critical', 10_000, 1)).toBe('admitted');
  });

  it('with the gateway queue, holds the queued classes in overload before shedding them, never critical', () => {
    const queued = overloadConfigSchema.parse({ shed: { criticalHardLimitPerReplica: 1 }, queue: { enabled: true, classes: ['batch'] } });
    expect(overloadDecision(queued, 'overload', 'batch', 0, 1)).toBe('queued');
    expect(overloadDecision(queued, 'overload', 'standard', 0, 1)).toBe('clamped');
    expect(overloadDecision(queued, 'overload', 'critical', 5, 1)).toBe('shed');
    expect(overloadDecision(queued, 'pressure', 'batch', 0, 1)).toBe('clamped');
  });

  it('follows the configured classes and switches', () => {
    const both = overloadConfigSchema.parse({ shed: { classes: ['batch', 'standard'] }, clamp: { classes: ['batch'] } });
    expect(overloadDecision(both, 'overload', 'standard', 0, 1)).toBe('shed');
    expect(overloadDecision(both, 'pressure', 'standard', 0, 1)).toBe('admitted');
    const noShed = overloadConfigSchema.parse({ shed: { enabled: false } });
    expect(overloadDecision(noShed, 'overload', 'batch', 0, 1)).toBe('clamped');
    const noClamp = overloadConfigSchema.parse({ clamp: { enabled: false } });
    expect(overloadDecision(noClamp, 'pressure', 'batch', 0, 1)).toBe('admitted');
    expect(overloadDecision(noClamp, 'overload', 'batch', 0, 1)).toBe('shed');
  });
});

describe('the critical reserve (admissionDecision)', () => {
  // 8 slots per replica, 3 kept for critical: lower classes go on while fewer than 5 per replica are in flight.
  const reserved = overloadConfigSchema.parse({ concurrencyPerReplica: 8, criticalReservePerReplica: 3 });

  it('lets a lower class in only while the in-flight count leaves the reserve free, over all replicas', () => {
    expect(lowerClassHasRoom(reserved, { total: 4, replicas: 1 })).toBe(true);
    expect(lowerClassHasRoom(reserved, { total: 5, replicas: 1 })).toBe(false);
    expect(lowerClassHasRoom(reserved, { total: 9, replicas: 2 })).toBe(true);
    expect(lowerClassHasRoom(reserved, { total: 10, replicas: 2 })).toBe(false);
    // No reserve configured: always room.
    expect(lowerClassHasRoom(overloadConfigSchema.parse({ concurrencyPerReplica: 8 }), { total: 1_000, replicas: 1 })).toBe(true);
  });

  it('sheds a lower class that would eat into the reserve at any level, and never holds back critical', () => {
    const full = { total: 5, critical: 5, replicas: 1 };
    for (const level of ['normal', 'pressure', 'overload'] as const) {
      expect(admissionDecision(reserved, level, 'standard', full)).toBe('shed');
      expect(admissionDecision(reserved, level, 'batch', full)).toBe('shed');
      expect(admissionDecision(reserved, level, 'critical', { ...full, total: 100 })).toBe('admitted');
    }
  });

  it('with room, decides by the level as before', () => {
    const room = { total: 2, critical: 0, replicas: 1 };
    expect(admissionDecision(reserved, 'normal', 'batch', room)).toBe('admitted');
    expect(admissionDecision(reserved, 'pressure', 'standard', room)).toBe('clamped');
    expect(admissionDecision(reserved, 'overload', 'batch', room)).toBe('shed');
  });

  it('holds a queued class in the gateway queue instead of shedding it', () => {
    const queued = overloadConfigSchema.parse({ concurrencyPerReplica: 8, criticalReservePerReplica: 3, queue: { enabled: true, classes: ['standard'] } });
    const full = { total: 5, critical: 0, replicas: 1 };
    expect(admissionDecision(queued, 'normal', 'standard', full)).toBe('queued');
    expect(admissionDecision(queued, 'normal', 'batch', full)).toBe('shed');
  });

  it('is refused without concurrencyPerReplica or when it leaves the lower classes no slot', () => {
    expect(overloadConfigSchema.safeParse({ criticalReservePerReplica: 2 }).success).toBe(false);
    expect(overloadConfigSchema.safeParse({ concurrencyPerReplica: 2, criticalReservePerReplica: 2 }).success).toBe(false);
    expect(overloadConfigSchema.safeParse({ concurrencyPerReplica: 3, criticalReservePerReplica: 2 }).success).toBe(true);
  });
});

describe('retryAfterSeconds (drain time of the queue)', () => {
  const bounds = { min: 1, max: 60 };
  it('is the queue divided by the completion rate, rounded up, within the bounds', () => {
    expect(retryAfterSeconds(30, 4, bounds)).toBe(8); // 7.5 s
    expect(retryAfterSeconds(8, 4, bounds)).toBe(2);
    expect(retryAfterSeconds(1, 100, bounds)).toBe(1);
    expect(retryAfterSeconds(10_000, 2, bounds)).toBe(60);
    expect(retryAfterSeconds(0, 0, bounds)).toBe(1);
    expect(retryAfterSeconds(5, 0, bounds)).toBe(60); // nothing completes: the longest wait
    expect(retryAfterSeconds(3, 1, { min: 5, max: 10 })).toBe(5);
  });
});

describe('CompletionRate', () => {
  it('counts completions per second over a sliding window of one-second slots', () => {
    const rate = new CompletionRate(10, 0);
    expect(rate.perSecond(0)).toBe(0);
    for (let t = 0; t < 4_000; t += 250) rate.record(t); // 4 per second for 4 s
    expect(rate.perSecond(4_000)).toBe(16 / 4);
    // At 10 s the window is slots 1-10 (the current one and the nine before it): slot 0 has left.
    expect(rate.perSecond(10_000)).toBe(12 / 10);
    // Slots older than the window are forgotten, also when their ring position is reused.
    rate.record(13_500);
    expect(rate.perSecond(13_900)).toBe(1 / 10);
    expect(rate.perSecond(30_000)).toBe(0);
  });
});

describe('priorityOf', () => {
  const principal = (tenant: string, priority?: 'critical' | 'standard' | 'batch'): Principal => ({
    keyId: 'k',
    tenant,
    policy: { id: 'k', tenant, models: ['*'], limits: {}, ...(priority === undefined ? {} : { priority }) },
  });
  it("takes the key's own class, then its tenant's, then standard", () => {
    const tenants = { nightly: 'batch', ops: 'critical' } as const;
    expect(priorityOf(principal('nightly', 'critical'), tenants)).toBe('critical');
    expect(priorityOf(principal('nightly'), tenants)).toBe('batch');
    expect(priorityOf(principal('ops'), tenants)).toBe('critical');
    expect(priorityOf(principal('web'), tenants)).toBe('standard');
    expect(priorityOf(principal('__proto__'), tenants)).toBe('standard');
    expect(priorityOf(undefined, tenants)).toBe('standard');
  });
});
