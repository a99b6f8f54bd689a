import type { PrometheusApi } from '../analytics/prometheus-api.js';
import { MODEL_TRAFFIC } from '../monitoring/rules.js';
import type { TenantModelUsageRow } from './usage-report.js';
import { usageFigures } from './usage-report.js';

/**
 * Usage per tenant and model over any time range, from a Prometheus that scrapes the gateways:
 * the increase of tollbooth_requests_total, tollbooth_tokens_total (by kind) and
 * tollbooth_cost_micros_total over [from, to], summed over every instance. Prometheus never sees
 * keys (metrics are not labelled by key), and its tenant label is the metrics' own: declared
 * tenants by name, `other` for the rest. increase() extrapolates to the range's edges, so the
 * counts are Prometheus's estimate (rounded), not the exact counters of GET /api/v1/usage.
 */

interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface PrometheusUsageSamples {
  readonly requests: readonly VectorSample[];
  readonly tokens: readonly VectorSample[];
  readonly costMicros: readonly VectorSample[];
}

export function prometheusUsageQueries(rangeSeconds: number, currency: string): Record<keyof PrometheusUsageSamples, string> {
  const range = `[${rangeSeconds}s]`;
  return {
    requests: `sum by (tenant, model) (increase(tollbooth_requests_total{${MODEL_TRAFFIC}}${range}))`,
    tokens: `sum by (tenant, model, kind) (increase(tollbooth_tokens_total{${MODEL_TRAFFIC}}${range}))`,
    costMicros: `sum by (tenant, model) (increase(tollbooth_cost_micros_total{${MODEL_TRAFFIC}, currency=${JSON.stringify(currency)}}${range}))`,
  };
}

/** One instant query per figure at `to`, each over the range's seconds. */
export async function readPrometheusUsage(api: PrometheusApi, range: { fromMs: number; toMs: number }, currency: string): Promise<TenantModelUsageRow[]> {
  const queries = prometheusUsageQueries(Math.max(1, Math.round((range.toMs - range.fromMs) / 1000)), currency);
  const time = String(range.toMs / 1000);
  const [requests, tokens, costMicros] = await Promise.all(
    [queries.requests, queries.tokens, queries.costMicros].map((query) => api<VectorSample[]>('query', { query, time }, 'vector')),
  );
  return prometheusUsageRows({ requests: requests!, tokens: tokens!, costMicros: costMicros! });
}

const TOKEN_KINDS = { input: 'inputTokens', cached_input: 'cachedInputTokens', output: 'outputTokens' } as const;

/** The samples as rows per tenant and model, sorted; figures rounded to whole requests, tokens and micro-units. */
export function prometheusUsageRows(samples: PrometheusUsageSamples): TenantModelUsageRow[] {
  const rows = new Map<string, { tenant: string; model: string; requests: number; inputTokens: number; cachedInputTokens: number; outputTokens: number; costMicros: number }>();
  const rowOf = (metric: Record<string, string>) => {
    const tenant = metric.tenant ?? '';
    const model = metric.model ?? '';
    const id = `${tenant}\u0000${model}`;
    let row = rows.get(id);
    if (row === undefined) {
      row = { tenant, model, requests: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costMicros: 0 };
      rows.set(id, row);
    }
    return row;
  };
  const valueOf = (sample: VectorSample): number => {
    const value = Number(sample.value[1]);
    return Number.isFinite(value) ? value : 0;
  };
  for (const sample of samples.requests) rowOf(sample.metric).requests += valueOf(sample);
  for (const sample of samples.costMicros) rowOf(sample.metric).costMicros += valueOf(sample);
  for (const sample of samples.tokens) {
    const field = TOKEN_KINDS[sample.metric.kind as keyof typeof TOKEN_KINDS];
    if (field !== undefined) rowOf(sample.metric)[field] += valueOf(sample);
  }
  return [...rows.values()]
    .sort((a, b) => (a.tenant === b.tenant ? (a.model < b.model ? -1 : 1) : a.tenant < b.tenant ? -1 : 1))
    .map((row) => ({
      tenant: row.tenant,
      model: row.model,
      ...usageFigures({
        requests: Math.round(row.requests),
        inputTokens: Math.round(row.inputTokens),
        cachedInputTokens: Math.round(row.cachedInputTokens),
        outputTokens: Math.round(row.outputTokens),
        costNanos: BigInt(Math.round(row.costMicros)) * 1000n,
      }),
    }));
}
