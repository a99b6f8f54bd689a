import type { CostConfig } from '../../cost/config.js';
import { costPerThousandTokens, formatNanos } from '../../cost/cost.js';
import { PriceBook } from '../../cost/price-book.js';
import { LATENCY_SLIS, type LatencySli, type ReportConfig } from './config.js';
import { sumIncrements, type RangeSeries, type StepGrid } from './series.js';
import { ALL_SCOPE, judgeObjectives, scopeKey, type HistogramSteps, type ObjectiveResult, type RequestSteps } from './sla.js';

/**
 * The whole report, computed from the range series the Prometheus queries (queries.ts) return:
 * the SLA objectives (sla.ts), cost per tenant and model, and the prefix-cache ROI.
 */

/** What the queries of queries.ts answered, over the grid. */
export interface ReportSeries {
  /** tollbooth_requests_total summed by job, instance, model, tenant, status_class. */
  readonly requests: readonly RangeSeries[];
  /** Each latency histogram's buckets summed by job, instance, model, le. */
  readonly histograms: Readonly<Record<LatencySli, readonly RangeSeries[]>>;
  /** tollbooth_tokens_total summed by job, instance, model, replica, tenant, kind. */
  readonly tokens: readonly RangeSeries[];
  /** tollbooth_cost_micros_total of the currency, summed by job, instance, model, tenant. */
  readonly costMicros: readonly RangeSeries[];
}

export interface ReportInput {
  readonly grid: StepGrid;
  readonly report: ReportConfig;
  readonly cost: CostConfig;
  readonly series: ReportSeries;
  readonly worstPeriods?: number;
}

export interface CostRow {
  readonly name: string;
  /** In currency units, exact (a decimal string). */
  readonly cost: string;
  /** Prompt tokens, cached ones included. */
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  /** Cost per 1,000 input and output tokens; null without tokens. */
  readonly costPer1kTokens: string | null;
}

export interface CacheRoiRow {
  readonly model: string;
  readonly cachedInputTokens: number;
  readonly inputTokens: number;
  /** cached / input tokens; null without input tokens. */
  readonly cachedShare: number | null;
  /** How the saving was priced: `tokens` (the price difference), `replica_time` (prefill time saved) or `none`. */
  readonly basis: 'tokens' | 'replica_time' | 'none';
  /** What the cached tokens would have cost more without the cache, in currency units; null when it cannot be priced. */
  readonly saved: string | null;
  /** The model's cost had nothing been cached (cost + saved). */
  readonly costWithoutCache: string | null;
  /** Replica-time pricing: the prefill seconds the cache saved under analytics.report.prefillTokensPerSecond. */
  readonly prefillSecondsSaved: number | null;
}

export interface SlaReport {
  /** Where the figures come from, when it is not Prometheus (e.g. a gateway's last window). */
  readonly source?: string;
  readonly from: string;
  readonly to: string;
  readonly stepSeconds: number;
  readonly objectives: readonly ObjectiveResult[];
  readonly cost: {
    readonly currency: string;
    readonly total: CostRow;
    readonly byTenant: readonly CostRow[];
    readonly byModel: readonly CostRow[];
  };
  readonly prefixCacheRoi: {
    /** The stated assumption each basis rests on. */
    readonly assumptions: readonly string[];
    readonly byModel: readonly CacheRoiRow[];
  };
}

const WORST_PERIODS = 5;

/** Scope keys a labelled request or token series counts towards: the fleet, its model, its tenant. */
function scopeKeys(labels: Readonly<Record<string, string>>, withTenant: boolean): string[] {
  const keys = [scopeKey(ALL_SCOPE)];
  if (labels.model !== undefined) keys.push(scopeKey({ kind: 'model', name: labels.model }));
  if (withTenant && labels.tenant !== undefined) keys.push(scopeKey({ kind: 'tenant', name: labels.tenant }));
  return keys;
}

/** Increments summed into every scope each series belongs to (the series' own key, then fanned out). */
function byScope(series: readonly RangeSeries[], grid: StepGrid, withTenant: boolean, part: (labels: Readonly<Record<string, string>>) => string | undefined): Map<string, Map<string, number[]>> {
  const scoped = new Map<string, Map<string, number[]>>();
  const fine = sumIncrements(series, grid, (labels) => {
    const which = part(labels);
    return which === undefined ? undefined : JSON.stringify([scopeKeys(labels, withTenant), which]);
  });
  for (const [key, increments] of fine) {
    const [keys, which] = JSON.parse(key) as [string[], string];
    for (const scope of keys) {
      let parts = scoped.get(scope);
      if (parts === undefined) scoped.set(scope, (parts = new Map()));
      const sum = parts.get(which);
      if (sum === undefined) parts.set(which, [...increments]);
      else for (let k = 0; k < increments.length; k++) sum[k]! += increments[k]!;
    }
  }
  return scoped;
}

function requestSteps(series: readonly RangeSeries[], grid: StepGrid): Map<string, RequestSteps> {
  const zeros = () => new Array<number>(grid.steps).fill(0);
  const result = new Map<string, RequestSteps>();
  for (const [scope, parts] of byScope(series, grid, true, (labels) => (labels.status_class === '5xx' ? 'error' : 'other'))) {
    const errors = parts.get('error') ?? zeros();
    const other = parts.get('other') ?? zeros();
    result.set(scope, { errors, total: other.map((value, k) => value + errors[k]!) });
  }
  return result;
}

function histogramSteps(series: readonly RangeSeries[], grid: StepGrid): Map<string, HistogramSteps> {
  const result = new Map<string, HistogramSteps>();
  // `le` as a number: "1" and "1.0" (Prometheus 3's normalisation) are the same bucket.
  const bound = (le: string | undefined) => (le === undefined ? undefined : le === '+Inf' ? String(Infinity) : Number.isNaN(Number(le)) ? undefined : String(Number(le)));
  for (const [scope, parts] of byScope(series, grid, false, (labels) => bound(labels.le))) {
    result.set(scope, new Map([...parts].map(([le, increments]) => [Number(le), increments])));
  }
  return result;
}

const total = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0);

interface Totals {
  costMicros: number;
  tokens: Map<string, number>;
}

/** One scope's cost and tokens over the range, whichever source counted them. */
export interface CostTotals {
  readonly costNanos: bigint;
  /** Prompt tokens, cached ones included. */
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
}

function costTotals(totals: Totals | undefined): CostTotals {
  const tokens = (kind: string) => totals?.tokens.get(kind) ?? 0;
  return {
    costNanos: BigInt(Math.round(totals?.costMicros ?? 0)) * 1000n,
    inputTokens: tokens('input'),
    cachedInputTokens: tokens('cached_input'),
    outputTokens: tokens('output'),
  };
}

export function costRow(name: string, totals: CostTotals): CostRow {
  return {
    name,
    cost: formatNanos(totals.costNanos),
    inputTokens: totals.inputTokens,
    cachedInputTokens: totals.cachedInputTokens,
    outputTokens: totals.outputTokens,
    costPer1kTokens: costPerThousandTokens(totals.costNanos, totals.inputTokens + totals.outputTokens),
  };
}

function costSection(input: ReportInput): SlaReport['cost'] & { totalsByModel: Map<string, CostTotals> } {
  const { grid, series } = input;
  const totals = new Map<string, Totals>();
  const entry = (key: string) => {
    let found = totals.get(key);
    if (found === undefined) totals.set(key, (found = { costMicros: 0, tokens: new Map() }));
    return found;
  };
  for (const [scope, parts] of byScope(series.costMicros, grid, true, () => 'cost')) entry(scope).costMicros = total(parts.get('cost')!);
  for (const [scope, parts] of byScope(series.tokens, grid, true, (labels) => labels.kind)) {
    for (const [kind, increments] of parts) entry(scope).tokens.set(kind, total(increments));
  }
  const rows = (kind: 'model' | 'tenant') =>
    [...totals.keys()]
      .filter((key) => key.startsWith(`${kind}:`))
      .sort()
      .map((key) => costRow(key.slice(kind.length + 1), costTotals(totals.get(key))));
  const totalsByModel = new Map([...totals].filter(([key]) => key.startsWith('model:')).map(([key, value]) => [key.slice('model:'.length), costTotals(value)]));
  return { currency: input.cost.currency, total: costRow('all', costTotals(totals.get(scopeKey(ALL_SCOPE)))), byTenant: rows('tenant'), byModel: rows('model'), totalsByModel };
}

/**
 * The prefix cache's return: what the cached prompt tokens would have cost had they been
 * prefilled. A token-priced model saves the difference between its input and cached-input prices
 * per cached token (the gateway charged the cached price). A model charged by replica time saves
 * the prefill time of the cached tokens, cachedTokens / prefillTokensPerSecond, at the replica's
 * hourly price: an estimate that assumes prefill runs at that rate and that the saved time would
 * have been charged in full. `cachedByModelReplica`: cached input tokens by model, then by the
 * replica that served them ('' when the source does not say).
 */
export function prefixCacheRoi(
  cachedByModelReplica: ReadonlyMap<string, ReadonlyMap<string, number>>,
  costByModel: ReadonlyMap<string, CostTotals>,
  cost: CostConfig,
  report: ReportConfig,
): SlaReport['prefixCacheRoi'] {
  const book = new PriceBook(cost);
  const tokensPerSecond = report.prefillTokensPerSecond;
  const models = [...new Set([...costByModel.keys(), ...cachedByModelReplica.keys()])].sort();
  const byModel = models.map((model): CacheRoiRow => {
    const replicas = cachedByModelReplica.get(model) ?? new Map<string, number>();
    const cached = total([...replicas.values()]);
    const inputTokens = costByModel.get(model)?.inputTokens ?? 0;
    const modelCostNanos = costByModel.get(model)?.costNanos ?? 0n;
    let basis: CacheRoiRow['basis'] = 'none';
    let savedNanos: bigint | null = 0n;
    let prefillSecondsSaved: number | null = null;
    for (const [replica, tokens] of replicas) {
      const uncached = book.costOf(model, replica, { input: tokens, cachedInput: 0, output: 0 }, 0);
      if (uncached.basis === 'tokens') {
        basis = 'tokens';
        savedNanos = savedNanos === null ? null : savedNanos + uncached.nanos - book.costOf(model, replica, { input: tokens, cachedInput: tokens, output: 0 }, 0).nanos;
        continue;
      }
      if (book.costOf(model, replica, { input: 0, cachedInput: 0, output: 0 }, 1).basis !== 'replica_time') continue;
      basis = 'replica_time';
      if (tokensPerSecond === undefined) {
        savedNanos = null;
        continue;
      }
      const seconds = tokens / tokensPerSecond;
      prefillSecondsSaved = (prefillSecondsSaved ?? 0) + seconds;
      if (savedNanos !== null) savedNanos += book.costOf(model, replica, { input: 0, cachedInput: 0, output: 0 }, seconds * 1000).nanos;
    }
    const priced = basis !== 'none' && savedNanos !== null;
    return {
      model,
      cachedInputTokens: cached,
      inputTokens,
      cachedShare: inputTokens > 0 ? cached / inputTokens : null,
      basis,
      saved: priced ? formatNanos(savedNanos!) : null,
      costWithoutCache: priced ? formatNanos(modelCostNanos + savedNanos!) : null,
      prefillSecondsSaved,
    };
  });
  return {
    assumptions: [
      "tokens: each cached input token saved the difference between the model's input and cached-input prices (cost.tokenPrices); the gateway charged the cached price.",
      tokensPerSecond === undefined
        ? 'replica_time: not priced; set analytics.report.prefillTokensPerSecond to estimate the prefill time saved.'
        : `replica_time: each cached input token saved 1/${tokensPerSecond} s of prefill (analytics.report.prefillTokensPerSecond), charged at the replica's hourly price (cost.replicaHourly).`,
    ],
    byModel,
  };
}

export function computeReport(input: ReportInput): SlaReport {
  const { grid, series } = input;
  const histograms = Object.fromEntries(
    (Object.keys(LATENCY_SLIS) as LatencySli[]).map((sli) => [sli, histogramSteps(series.histograms[sli], grid)]),
  ) as Record<LatencySli, Map<string, HistogramSteps>>;
  const objectives = judgeObjectives({
    grid,
    objectives: input.report.objectives,
    requests: requestSteps(series.requests, grid),
    histograms,
    worstPeriods: input.worstPeriods ?? WORST_PERIODS,
  });
  const { totalsByModel, ...cost } = costSection(input);
  const cachedByModelReplica = new Map<string, Map<string, number>>();
  for (const [key, increments] of sumIncrements(series.tokens, grid, (labels) =>
    labels.kind === 'cached_input' && labels.model !== undefined ? JSON.stringify([labels.model, labels.replica ?? '']) : undefined,
  )) {
    const [model, replica] = JSON.parse(key) as [string, string];
    let replicas = cachedByModelReplica.get(model);
    if (replicas === undefined) cachedByModelReplica.set(model, (replicas = new Map()));
    replicas.set(replica, (replicas.get(replica) ?? 0) + total(increments));
  }
  return {
    from: new Date(grid.startSeconds * 1000).toISOString(),
    to: new Date((grid.startSeconds + grid.steps * grid.stepSeconds) * 1000).toISOString(),
    stepSeconds: grid.stepSeconds,
    objectives,
    cost,
    prefixCacheRoi: prefixCacheRoi(cachedByModelReplica, totalsByModel, input.cost, input.report),
  };
}
