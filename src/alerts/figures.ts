import { buildBudgetState, type BudgetReport } from '../ratelimit/budget-report.js';
import { AggregateSet } from '../telemetry/stats/aggregate-set.js';
import { buildMetricsSnapshot, type MetricsApiResponse } from '../telemetry/stats/snapshot.js';

export type AlertScope = 'fleet' | 'model' | 'replica' | 'tenant' | 'key';

/**
 * What a rule of each scope reads its figure from: one object per fleet, model, replica, tenant or
 * key. Tenants and keys come from the budgets' report (none without one).
 */
export function scopeViews(snapshot: MetricsApiResponse, scope: AlertScope, budgets?: BudgetReport): ReadonlyMap<string, unknown> {
  if (scope === 'fleet') return new Map([['', snapshot]]);
  if (scope === 'model') return new Map(Object.entries(snapshot.by_model));
  if (scope === 'tenant') return new Map(Object.entries(budgets?.tenants ?? {}));
  if (scope === 'key') return new Map(Object.entries(budgets?.keys ?? {}));
  const names = new Set([...Object.keys(snapshot.replicas), ...Object.keys(snapshot.by_replica)]);
  const views = new Map<string, unknown>();
  for (const name of [...names].sort()) views.set(name, replicaView(snapshot, name));
  return views;
}

/**
 * A replica's figures: its window statistics (by_replica) and its live figures (replicas), with
 * `requests.waiting` (its engine queue) and `requests.running` (in flight) as at the top level.
 */
function replicaView(snapshot: MetricsApiResponse, name: string): unknown {
  const statistics = Object.hasOwn(snapshot.by_replica, name) ? snapshot.by_replica[name] : undefined;
  const now = Object.hasOwn(snapshot.replicas, name) ? snapshot.replicas[name] : undefined;
  return {
    ...TEMPLATES.replicaStatistics,
    ...statistics,
    ...now,
    requests: { ...(statistics ?? TEMPLATES.replicaStatistics).requests, waiting: now?.engine.waiting ?? 0, running: now?.in_flight ?? 0 },
  };
}

/** The figure at `path` (dot-separated) in `view`, or undefined when it is not a finite number. */
export function figureAt(view: unknown, path: string): number | undefined {
  let current: unknown = view;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'number' && Number.isFinite(current) ? current : undefined;
}

const TEMPLATES = (() => {
  const set = new AggregateSet('cumulative');
  set.includeNames(['model'], ['replica']);
  const scope = { set, spanMs: 1000, peakConcurrency: 0 };
  const snapshot = buildMetricsSnapshot({
    nowMs: 1000,
    startedAtMs: 0,
    windowMs: 1000,
    currency: 'USD',
    window: scope,
    sinceStart: scope,
    replicas: [{ name: 'replica', health: 'healthy', inFlight: 0, engine: undefined, gpus: undefined }],
  });
  const budgets = buildBudgetState({
    keys: [{ keyId: 'key', tenant: 'tenant', budget: { daily: 1, monthly: 10 } }],
    reading: { atMs: 1000, store: 'memory', spends: new Map([['key', { daySpentNanos: 1n, monthSpentNanos: 1n }]]) },
    rateOf: () => 1,
    tenantLabel: (tenant) => tenant,
    currency: 'USD',
    refreshIntervalMs: 1000,
    rateWindowMs: 1000,
  }).report;
  return { snapshot, replicaStatistics: snapshot.by_replica['replica']!, budgets };
})();

/** Why `path` names no number of the JSON in `scope`, or undefined when it does (checked at boot). */
export function figureProblem(scope: AlertScope, path: string): string | undefined {
  const view = scopeViews(TEMPLATES.snapshot, scope, TEMPLATES.budgets).values().next().value;
  if (figureAt(view, path) !== undefined) return undefined;
  if (scope === 'tenant' || scope === 'key') {
    return `"${path}" is not a number in ${scope === 'tenant' ? 'tenants.<tenant>' : 'keys.<key>'} of GET /api/v1/budgets (e.g. day.projected_percent, month.spent_percent, day.exhausts_in_seconds)`;
  }
  const where = scope === 'fleet' ? 'GET /api/v1/metrics' : scope === 'model' ? 'by_model.<model> of GET /api/v1/metrics' : 'by_replica.<replica> and replicas.<replica> of GET /api/v1/metrics';
  return `"${path}" is not a number in ${where} (e.g. requests.waiting, slo.ttft.p95, requests.error_rate_percent)`;
}
