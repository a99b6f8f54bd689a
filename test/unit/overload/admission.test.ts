import { describe, expect, it } from 'vitest';
import { CompletionRate, overloadDecision, retryAfterSeconds } from '../../../src/overload/admission.js';
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
