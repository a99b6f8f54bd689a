import { describe, expect, it } from 'vitest';
import { alertRuleSchema, alertsConfigSchema, DEFAULT_ALERT_RULES, effectiveRules, type AlertRule } from '../../../src/alerts/config.js';
import { AlertEngine } from '../../../src/alerts/engine.js';
import { parseConfig } from '../../../src/config/load.js';
import { postableAlert } from '../../../src/alerts/push.js';
import { buildBudgetState, type BudgetReport } from '../../../src/ratelimit/budget-report.js';
import { AggregateSet } from '../../../src/telemetry/stats/aggregate-set.js';
import { buildMetricsSnapshot, type MetricsApiResponse, type Statistics } from '../../../src/telemetry/stats/snapshot.js';

/** A snapshot with the given figures: fleet queue and error rate, per model error rates, per replica queues. */
function snapshot(figures: { waiting?: number; errorRate?: number; models?: Record<string, number>; replicas?: Record<string, number> } = {}): MetricsApiResponse {
  const models = figures.models ?? {};
  const replicas = figures.replicas ?? {};
  const set = new AggregateSet('cumulative');
  set.includeNames(Object.keys(models), Object.keys(replicas));
  const scope = { set, spanMs: 1000, peakConcurrency: 0 };
  const base = buildMetricsSnapshot({
    nowMs: 1000,
    startedAtMs: 0,
    windowMs: 60_000,
    currency: 'USD',
    window: scope,
    sinceStart: scope,
    replicas: Object.entries(replicas).map(([name, waiting]) => ({
      name,
      health: 'healthy',
      inFlight: 0,
      engine: { waiting, running: 0, kvCacheUsage: 0, prefixCacheQueries: 0, prefixCacheHits: 0, prefixCacheHitRatio: 0 },
      gpus: undefined,
    })),
  });
  const withErrorRate = (statistics: Statistics, rate: number): Statistics => ({ ...statistics, requests: { ...statistics.requests, error_rate_percent: rate } });
  return {
    ...base,
    requests: { ...base.requests, waiting: figures.waiting ?? 0, error_rate_percent: figures.errorRate ?? 0 },
    by_model: Object.fromEntries(Object.entries(models).map(([name, rate]) => [name, withErrorRate(base.by_model[name]!, rate)])),
  };
}

const queue: AlertRule = alertRuleSchema.parse({ name: 'QueueTooLong', figure: 'requests.waiting', threshold: 5, forMs: 60_000 });

describe('AlertEngine', () => {
  it('goes pending, fires once the comparison held for `for`, and resolves when it no longer holds', () => {
    const engine = new AlertEngine([queue]);
    expect(engine.evaluate(snapshot({ waiting: 3 }), 0)).toEqual([]);
    const pending = engine.evaluate(snapshot({ waiting: 7 }), 10_000);
    expect(pending.map((t) => [t.from, t.to])).toEqual([['inactive', 'pending']]);
    expect(engine.firing()).toEqual([]);
    expect(engine.evaluate(snapshot({ waiting: 8 }), 69_999)).toEqual([]);
    const firing = engine.evaluate(snapshot({ waiting: 9 }), 70_000);
    expect(firing.map((t) => [t.from, t.to])).toEqual([['pending', 'firing']]);
    expect(engine.firing()).toEqual([
      {
        name: 'QueueTooLong',
        severity: 'warning',
        message: 'QueueTooLong: requests.waiting = 9 (> 5 for 60 s)',
        since: new Date(70_000).toISOString(),
        scope: 'fleet',
        figure: 'requests.waiting',
        value: 9,
        threshold: 5,
      },
    ]);
    // Still firing: no transition, the value follows.
    expect(engine.evaluate(snapshot({ waiting: 12 }), 75_000)).toEqual([]);
    expect(engine.firing()[0]!.message).toContain('= 12');
    const resolved = engine.evaluate(snapshot({ waiting: 2 }), 80_000);
    expect(resolved.map((t) => [t.from, t.to])).toEqual([['firing', 'resolved']]);
    expect(resolved[0]!.instance.firedAtMs).toBe(70_000);
    expect(engine.firing()).toEqual([]);
    expect(engine.active()).toEqual([]);
  });

  it('never fires when the comparison flaps for less than `for` each time', () => {
    const engine = new AlertEngine([queue]);
    const seen: string[] = [];
    for (let t = 0; t < 600_000; t += 5_000) {
      // Above for 50 s, below for 5 s, and again.
      const waiting = t % 55_000 === 50_000 ? 0 : 10;
      for (const transition of engine.evaluate(snapshot({ waiting }), t)) seen.push(transition.to);
      expect(engine.firing()).toEqual([]);
    }
    expect(seen).toContain('pending');
    expect(seen).toContain('inactive');
    expect(seen).not.toContain('firing');
  });

  it('fires at once with for 0, and compares with each operator', () => {
    const low = alertRuleSchema.parse({ name: 'Low', figure: 'requests.waiting', comparison: '<=', threshold: 1, severity: 'critical' });
    const engine = new AlertEngine([low]);
    expect(engine.evaluate(snapshot({ waiting: 1 }), 0).map((t) => t.to)).toEqual(['firing']);
    expect(engine.firing()[0]!.severity).toBe('critical');
    expect(engine.evaluate(snapshot({ waiting: 2 }), 1).map((t) => t.to)).toEqual(['resolved']);
  });

  it('scope model: one alert per model, each with its own state', () => {
    const rule = alertRuleSchema.parse({ name: 'ModelErrors', figure: 'requests.error_rate_percent', threshold: 10, forMs: 10_000, scope: 'model', severity: 'critical' });
    const engine = new AlertEngine([rule]);
    engine.evaluate(snapshot({ models: { a: 50, b: 50, c: 0 } }), 0);
    engine.evaluate(snapshot({ models: { a: 50, b: 0, c: 0 } }), 10_000);
    expect(engine.firing().map((alert) => [alert.name, alert.model, alert.scope])).toEqual([['ModelErrors', 'a', 'model']]);
    expect(engine.firing()[0]!.message).toBe('ModelErrors: requests.error_rate_percent = 50 (> 10 for 10 s) on model a');
    engine.evaluate(snapshot({ models: { a: 50, b: 20, c: 20 } }), 20_000);
    engine.evaluate(snapshot({ models: { a: 50, b: 20, c: 20 } }), 30_000);
    expect(engine.firing().map((alert) => alert.model)).toEqual(['a', 'b', 'c']);
    // A model that leaves the JSON resolves.
    const transitions = engine.evaluate(snapshot({ models: { b: 20, c: 20 } }), 40_000);
    expect(transitions.map((t) => [t.instance.scopeName, t.to])).toEqual([['a', 'resolved']]);
  });

  it('scope replica: one alert per replica, reading its engine queue as requests.waiting', () => {
    const rule = alertRuleSchema.parse({ name: 'ReplicaQueue', figure: 'requests.waiting', threshold: 5, scope: 'replica' });
    const engine = new AlertEngine([rule]);
    engine.evaluate(snapshot({ replicas: { r1: 9, r2: 1, r3: 6 } }), 0);
    expect(engine.firing().map((alert) => [alert.replica, alert.value])).toEqual([['r1', 9], ['r3', 6]]);
    const replicaFigures = new AlertEngine([alertRuleSchema.parse({ name: 'Engine', figure: 'engine.waiting', threshold: 5, scope: 'replica' })]);
    replicaFigures.evaluate(snapshot({ replicas: { r1: 9 } }), 0);
    expect(replicaFigures.firing().map((alert) => alert.replica)).toEqual(['r1']);
  });
});

/** A budgets report with one key per entry: its daily spend (units of 10) and spend rate (units per hour). */
function budgets(keys: Record<string, { spent: number; perHour: number | undefined }>): BudgetReport {
  return buildBudgetState({
    keys: Object.keys(keys).map((keyId) => ({ keyId, tenant: 'acme', budget: { daily: 10 } })),
    reading: { atMs: Date.parse('2026-03-10T12:00:00Z'), store: 'memory', spends: new Map(Object.entries(keys).map(([keyId, { spent }]) => [keyId, { daySpentNanos: BigInt(spent) * 1_000_000_000n, monthSpentNanos: 0n }])) },
    rateOf: (keyId) => (keys[keyId]!.perHour === undefined ? undefined : (keys[keyId]!.perHour! * 1e9) / 3600),
    tenantLabel: (tenant) => tenant,
    currency: 'USD',
    refreshIntervalMs: 1000,
    rateWindowMs: 60_000,
  }).report;
}

describe('AlertEngine over the budgets', () => {
  const [daily] = DEFAULT_ALERT_RULES.filter((rule) => rule.name === 'DailyBudgetRunningOut');

  it('warns per key whose daily budget runs out before midnight at its current rate, and resolves when the rate drops', () => {
    const engine = new AlertEngine([daily!]);
    // 12 hours to midnight. k1: 4 of 10 spent at 1/h → 16 (160 %); k2: 4 at 0.25/h → 7 (70 %); k3: no rate yet.
    const start = budgets({ k1: { spent: 4, perHour: 1 }, k2: { spent: 4, perHour: 0.25 }, k3: { spent: 9, perHour: undefined } });
    expect(engine.evaluate(snapshot(), 0, [], start).map((t) => [t.instance.scopeName, t.to])).toEqual([['k1', 'pending']]);
    expect(engine.evaluate(snapshot(), 300_000, [], start).map((t) => [t.instance.scopeName, t.to])).toEqual([['k1', 'firing']]);
    const [alert] = engine.firing();
    expect(alert).toMatchObject({ name: 'DailyBudgetRunningOut', severity: 'warning', scope: 'key', key: 'k1', value: 160 });
    expect(alert?.message).toBe("Share of the key's daily budget spent by the day's end at its current rate (%): day.projected_percent = 160 (>= 100 for 300 s) on key k1");
    expect(postableAlert(engine.active()[0]!, 600_000).labels).toEqual({ alertname: 'DailyBudgetRunningOut', severity: 'warning', scope: 'key', key_id: 'k1', source: 'tollbooth' });
    const slower = budgets({ k1: { spent: 5, perHour: 0.1 }, k2: { spent: 4, perHour: 0.25 }, k3: { spent: 9, perHour: 0 } });
    expect(engine.evaluate(snapshot(), 310_000, [], slower).map((t) => [t.instance.scopeName, t.to])).toEqual([['k1', 'resolved']]);
    // Without a report (no budgets, or not read yet) nothing holds.
    expect(engine.evaluate(snapshot(), 320_000, [], undefined)).toEqual([]);
  });

  it('reads tenants from the same report, and checks their figures at boot', () => {
    const rule = alertRuleSchema.parse({ name: 'TenantHalfSpent', figure: 'day.spent_percent', threshold: 50, scope: 'tenant' });
    const engine = new AlertEngine([rule]);
    const transitions = engine.evaluate(snapshot(), 0, [], budgets({ k1: { spent: 8, perHour: 0 }, k2: { spent: 3, perHour: 0 } }));
    expect(transitions.map((t) => [t.instance.scopeName, t.to, t.instance.value])).toEqual([['acme', 'firing', 55]]);
    expect(alertsConfigSchema.safeParse({ rules: [{ name: 'X', figure: 'requests.waiting', threshold: 1, scope: 'key' }] }).error?.issues[0]?.message).toMatch(/not a number in keys\.<key> of GET \/api\/v1\/budgets/);
  });
});

describe('alert configuration', () => {
  it('has the reference three and the budget forecasts by default; a rule of the same name replaces one, others add', () => {
    const config = alertsConfigSchema.parse({});
    expect(config).toMatchObject({ enabled: true, evaluationIntervalMs: 5_000 });
    expect(effectiveRules(config)).toEqual(DEFAULT_ALERT_RULES);
    expect(DEFAULT_ALERT_RULES.map((rule) => [rule.figure, rule.threshold, rule.forMs, rule.severity])).toEqual([
      ['requests.waiting', 5, 60_000, 'warning'],
      ['slo.ttft.p95', 3, 300_000, 'warning'],
      ['requests.error_rate_percent', 10, 300_000, 'critical'],
      ['day.projected_percent', 100, 300_000, 'warning'],
      ['month.projected_percent', 100, 900_000, 'warning'],
    ]);
    const custom = alertsConfigSchema.parse({
      rules: [
        { name: 'TTFTTooHigh', figure: 'slo.ttft.p95', threshold: 1, forMs: 1000 },
        { name: 'KvCacheFull', figure: 'engine.kv_cache_usage_percent', threshold: 90, scope: 'replica' },
      ],
    });
    expect(effectiveRules(custom).map((rule) => [rule.name, rule.threshold])).toEqual([
      ['QueueTooLong', 5],
      ['TTFTTooHigh', 1],
      ['ErrorRateTooHigh', 10],
      ['DailyBudgetRunningOut', 100],
      ['MonthlyBudgetRunningOut', 100],
      ['KvCacheFull', 90],
    ]);
    expect(effectiveRules({ ...custom, defaults: false }).map((rule) => rule.name)).toEqual(['TTFTTooHigh', 'KvCacheFull']);
  });

  it('rejects a figure that is not a number of the JSON in its scope, and duplicate names', () => {
    const problems = (input: unknown): string[] => {
      const result = alertsConfigSchema.safeParse(input);
      return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    expect(problems({ rules: [{ name: 'A', figure: 'requests.wating', threshold: 1 }] })[0]).toMatch(/^rules\.0\.figure: "requests\.wating" is not a number/);
    expect(problems({ rules: [{ name: 'A', figure: 'slo.ttft', threshold: 1 }] })).toHaveLength(1);
    expect(problems({ rules: [{ name: 'A', figure: 'gpu.name', threshold: 1 }] })).toHaveLength(1);
    expect(problems({ rules: [{ name: 'A', figure: '__proto__.x', threshold: 1 }] })).toHaveLength(1);
    // requests.waiting is fleet- and replica-wide, not per model.
    expect(problems({ rules: [{ name: 'A', figure: 'requests.waiting', threshold: 1, scope: 'model' }] })).toHaveLength(1);
    expect(problems({ rules: [{ name: 'A', figure: 'engine.waiting', threshold: 1, scope: 'fleet' }] })).toHaveLength(1);
    expect(problems({ rules: [{ name: 'A', figure: 'gpu.utilization_percent', threshold: 90 }, { name: 'A', figure: 'alerts_count', threshold: 0 }] })).toEqual(['rules.1.name: rule name "A" is used twice']);
    expect(problems({ rules: [{ name: 'A', figure: 'slo.ttft.p95', threshold: 1, scope: 'model' }, { name: 'B', figure: 'gpu.allocated_gb', threshold: 1, scope: 'replica' }] })).toEqual([]);
  });

  it('a figure path that is not in the JSON stops the boot, naming the rule', () => {
    const config = (alerts: unknown) => parseConfig({ replicas: [{ url: 'http://127.0.0.1:8000', models: ['m'] }], auth: { enabled: false }, alerts });
    expect(() => config({ rules: [{ name: 'X', figure: 'requests.nope', threshold: 1 }] })).toThrow(/alerts\.rules\.0\.figure.*"requests\.nope" is not a number/);
    expect(config({}).alerts).toMatchObject({ enabled: true, evaluationIntervalMs: 5_000, defaults: true, rules: [] });
  });
});
