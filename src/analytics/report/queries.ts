import { MODEL_TRAFFIC } from '../../monitoring/rules.js';
import { LATENCY_SLIS, type LatencySli } from './config.js';
import type { ReportSeries } from './report.js';
import type { RangeSeries, StepGrid } from './series.js';

/**
 * The PromQL the report reads: the gateway's raw counters (metric names and the model filter of
 * the monitoring mixin, src/monitoring/rules.ts) summed per scraped instance. Counter values, not
 * the mixin's 5-minute recorded rates: the report differences them at every step, which is exact
 * to the scrape (a rate is extrapolated and cannot be summed into a window exactly), keeps each
 * gateway's restarts visible as resets, and works on history recorded before the rules existed.
 */
export function reportQueries(currency: string): { [K in Exclude<keyof ReportSeries, 'histograms'>]: string } & { histograms: Record<LatencySli, string> } {
  return {
    requests: `sum by (job, instance, model, tenant, status_class) (tollbooth_requests_total{${MODEL_TRAFFIC}})`,
    histograms: Object.fromEntries(
      Object.entries(LATENCY_SLIS).map(([sli, metric]) => [sli, `sum by (job, instance, model, le) (${metric}_bucket{${MODEL_TRAFFIC}})`]),
    ) as Record<LatencySli, string>,
    tokens: `sum by (job, instance, model, replica, tenant, kind) (tollbooth_tokens_total{${MODEL_TRAFFIC}})`,
    costMicros: `sum by (job, instance, model, tenant) (tollbooth_cost_micros_total{${MODEL_TRAFFIC}, currency=${JSON.stringify(currency)}})`,
  };
}

/** A range query over the grid, as the report's input. */
export type RangeQuery = (query: string, grid: StepGrid) => Promise<RangeSeries[]>;

export async function fetchReportSeries(queryRange: RangeQuery, grid: StepGrid, currency: string): Promise<ReportSeries> {
  const queries = reportQueries(currency);
  const [requests, tokens, costMicros, ...histograms] = await Promise.all([
    queryRange(queries.requests, grid),
    queryRange(queries.tokens, grid),
    queryRange(queries.costMicros, grid),
    ...Object.values(queries.histograms).map((query) => queryRange(query, grid)),
  ]);
  const slis = Object.keys(queries.histograms) as LatencySli[];
  return {
    requests: requests!,
    tokens: tokens!,
    costMicros: costMicros!,
    histograms: Object.fromEntries(slis.map((sli, index) => [sli, histograms[index]!])) as Record<LatencySli, RangeSeries[]>,
  };
}
