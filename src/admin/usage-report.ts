import { formatNanos } from '../cost/cost.js';
import { addUsage, NO_USAGE, periodEndMs, periodLabel, periodStartMs, type KeyUsage, type UsageCounts, type UsagePeriod } from '../ratelimit/usage-counters.js';

/**
 * GET /api/v1/usage as JSON (and `tollbooth keys usage --json`): pure, from one read of the usage
 * counters (per key) or of Prometheus (per tenant and model). Costs are exact decimal strings in
 * currency units, as in /api/v1/budgets.
 */

export const USAGE_GROUPS = ['key', 'tenant'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageFigures {
  readonly requests: number;
  readonly input_tokens: number;
  readonly cached_input_tokens: number;
  readonly output_tokens: number;
  readonly cost: string;
}

export type KeyUsageRow = { readonly key_id: string; readonly tenant: string } & UsageFigures;
export type TenantUsageRow = { readonly tenant: string; readonly keys: number } & UsageFigures;
export type TenantModelUsageRow = { readonly tenant: string; readonly model: string } & UsageFigures;

export interface CounterUsageReport {
  readonly object: 'usage';
  readonly source: 'counters';
  readonly period: UsagePeriod['kind'];
  /** YYYY-MM-DD or YYYY-MM (UTC). */
  readonly date: string;
  readonly starts_at: string;
  readonly ends_at: string;
  readonly group: UsageGroup;
  readonly currency: string;
  readonly data: readonly (KeyUsageRow | TenantUsageRow)[];
}

export interface PrometheusUsageReport {
  readonly object: 'usage';
  readonly source: 'prometheus';
  readonly from: string;
  readonly to: string;
  readonly group: 'tenant';
  readonly currency: string;
  readonly data: readonly TenantModelUsageRow[];
}

export type UsageReport = CounterUsageReport | PrometheusUsageReport;

export function usageFigures(counts: UsageCounts): UsageFigures {
  return {
    requests: counts.requests,
    input_tokens: counts.inputTokens,
    cached_input_tokens: counts.cachedInputTokens,
    output_tokens: counts.outputTokens,
    cost: formatNanos(counts.costNanos),
  };
}

/** The counters of one period, one row per key (sorted by id) or per tenant (sorted by name, with the number of keys). */
export function counterUsageReport(period: UsagePeriod, group: UsageGroup, rows: readonly KeyUsage[], currency: string): CounterUsageReport {
  const header = {
    object: 'usage',
    source: 'counters',
    period: period.kind,
    date: periodLabel(period),
    starts_at: new Date(periodStartMs(period)).toISOString(),
    ends_at: new Date(periodEndMs(period)).toISOString(),
    group,
    currency,
  } as const;
  if (group === 'key') {
    const data = [...rows].sort((a, b) => compare(a.keyId, b.keyId)).map((row) => ({ key_id: row.keyId, tenant: row.tenant, ...usageFigures(row) }));
    return { ...header, data };
  }
  const tenants = new Map<string, { keys: number; counts: UsageCounts }>();
  for (const row of rows) {
    const tenant = tenants.get(row.tenant) ?? { keys: 0, counts: NO_USAGE };
    tenants.set(row.tenant, { keys: tenant.keys + 1, counts: addUsage(tenant.counts, row) });
  }
  const data = [...tenants].sort(([a], [b]) => compare(a, b)).map(([tenant, { keys, counts }]) => ({ tenant, keys, ...usageFigures(counts) }));
  return { ...header, data };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
