import type { BudgetReport } from '../ratelimit/budget-report.js';
import type { Alert, MetricsApiResponse } from '../telemetry/stats/snapshot.js';
import type { AlertRule } from './config.js';
import { figureAt, scopeViews } from './figures.js';

export type AlertState = 'inactive' | 'pending' | 'firing';

/** One alert instance: a rule in one scope (the fleet, a model, a replica). */
export interface AlertInstance {
  readonly rule: AlertRule;
  /** The model, replica, tenant or key name; '' for the fleet. */
  readonly scopeName: string;
  readonly state: 'pending' | 'firing';
  /** When the comparison started to hold. */
  readonly activeAtMs: number;
  /** When it fired; undefined while pending. */
  readonly firedAtMs: number | undefined;
  /** The figure at the last evaluation. */
  readonly value: number;
}

/**
 * A condition that holds now, judged outside the rules (the anomaly detectors' active findings,
 * src/analytics/anomaly/): it goes through the same state machine, log, push and gauge as a rule.
 */
export interface AlertCondition {
  readonly rule: AlertRule;
  readonly scopeName: string;
  readonly value: number;
}

/** A change of state: inactive → pending / firing, pending → firing / inactive, firing → resolved. */
export interface AlertTransition {
  readonly instance: AlertInstance;
  readonly from: AlertState;
  readonly to: 'pending' | 'firing' | 'inactive' | 'resolved';
  readonly atMs: number;
}

const COMPARE: Record<AlertRule['comparison'], (value: number, threshold: number) => boolean> = {
  '>': (value, threshold) => value > threshold,
  '>=': (value, threshold) => value >= threshold,
  '<': (value, threshold) => value < threshold,
  '<=': (value, threshold) => value <= threshold,
  '==': (value, threshold) => value === threshold,
  '!=': (value, threshold) => value !== threshold,
};

/**
 * The rules' state machine, as Prometheus runs its alerting rules: a comparison that holds makes an
 * alert pending; held for `forMs` it fires; once it no longer holds a firing alert resolves and a
 * pending one is dropped. Pure: it reads a snapshot, the conditions judged elsewhere (the anomaly
 * findings), the budgets' report and the time it is given, nothing else. One instance per rule
 * and scope member (per model, replica, tenant or key); a member that leaves the JSON counts as
 * the comparison not holding. Tenant and key rules read the budgets' report.
 */
export class AlertEngine {
  private readonly instances = new Map<string, AlertInstance>();

  constructor(readonly rules: readonly AlertRule[]) {}

  evaluate(snapshot: MetricsApiResponse, nowMs: number, conditions: readonly AlertCondition[] = [], budgets?: BudgetReport): AlertTransition[] {
    const transitions: AlertTransition[] = [];
    const held = new Set<string>();
    const holding: AlertCondition[] = [];
    for (const rule of this.rules) {
      for (const [scopeName, view] of scopeViews(snapshot, rule.scope, budgets)) {
        const value = figureAt(view, rule.figure);
        if (value !== undefined && COMPARE[rule.comparison](value, rule.threshold)) holding.push({ rule, scopeName, value });
      }
    }
    for (const { rule, scopeName, value } of [...holding, ...conditions]) {
      const key = `${rule.name}\u0000${scopeName}`;
      held.add(key);
      const before = this.instances.get(key);
      if (before === undefined) {
        const fires = rule.forMs === 0;
        const instance: AlertInstance = { rule, scopeName, state: fires ? 'firing' : 'pending', activeAtMs: nowMs, firedAtMs: fires ? nowMs : undefined, value };
        this.instances.set(key, instance);
        transitions.push({ instance, from: 'inactive', to: instance.state, atMs: nowMs });
      } else if (before.state === 'pending' && nowMs - before.activeAtMs >= rule.forMs) {
        const instance: AlertInstance = { ...before, rule, state: 'firing', firedAtMs: nowMs, value };
        this.instances.set(key, instance);
        transitions.push({ instance, from: 'pending', to: 'firing', atMs: nowMs });
      } else {
        this.instances.set(key, { ...before, rule, value });
      }
    }
    for (const [key, instance] of this.instances) {
      if (held.has(key)) continue;
      this.instances.delete(key);
      transitions.push({ instance, from: instance.state, to: instance.state === 'firing' ? 'resolved' : 'inactive', atMs: nowMs });
    }
    return transitions;
  }

  /** Pending and firing instances. */
  active(): AlertInstance[] {
    return [...this.instances.values()];
  }

  /** The firing alerts as the JSON shows them, critical first, then by name and scope. */
  firing(): Alert[] {
    return this.active()
      .filter((instance) => instance.state === 'firing')
      .sort((a, b) => rank(a) - rank(b) || compare(a.rule.name, b.rule.name) || compare(a.scopeName, b.scopeName))
      .map(alertOf);
  }
}

function rank(instance: AlertInstance): number {
  return instance.rule.severity === 'critical' ? 0 : instance.rule.severity === 'warning' ? 1 : 2;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The scope labels of an instance: scope, and model, replica, tenant or key. */
export function scopeLabels(instance: Pick<AlertInstance, 'rule' | 'scopeName'>): { scope: AlertRule['scope']; model?: string; replica?: string; tenant?: string; key?: string } {
  const { scope } = instance.rule;
  if (scope === 'fleet') return { scope };
  return { scope, [scope]: instance.scopeName };
}

/** "Error rate (%): requests.error_rate_percent = 42.5 (> 10 for 300 s) on model m". */
export function messageOf(instance: Pick<AlertInstance, 'rule' | 'scopeName' | 'value'>): string {
  const { rule } = instance;
  const where = rule.scope === 'fleet' ? '' : ` on ${rule.scope} ${instance.scopeName}`;
  return `${rule.summary ?? rule.name}: ${rule.figure} = ${instance.value} (${rule.comparison} ${rule.threshold} for ${rule.forMs / 1000} s)${where}`;
}

export function alertOf(instance: AlertInstance): Alert {
  return {
    name: instance.rule.name,
    severity: instance.rule.severity,
    message: messageOf(instance),
    since: new Date(instance.firedAtMs ?? instance.activeAtMs).toISOString(),
    ...scopeLabels(instance),
    figure: instance.rule.figure,
    value: instance.value,
    threshold: instance.rule.threshold,
  };
}
