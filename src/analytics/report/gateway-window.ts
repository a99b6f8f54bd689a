import type { CostConfig } from '../../cost/config.js';
import { ERROR_CATALOGUE } from '../../errors/catalogue.js';
import { LATENCY_BUCKET_LABELS } from '../../telemetry/stats/latency-buckets.js';
import type { MetricsApiResponse, Statistics, TenantFigures } from '../../telemetry/stats/snapshot.js';
import type { Objective, ReportConfig } from './config.js';
import { costRow, prefixCacheRoi, type CostTotals, type SlaReport } from './report.js';
import type { StepGrid, WindowSpan } from './series.js';
import { ALL_SCOPE, judgeScope, objectiveTitle, requestEvaluator, type Evaluator, type ObjectiveResult, type Scope } from './sla.js';

/**
 * The report of a gateway's last window, from its GET /api/v1/metrics (the JSON's sliding
 * window, `metrics.windowMs`), in the same model as the Prometheus report (report.ts, sla.ts):
 * one evaluation step, the window, judged by the same scope judgement. Pure.
 *
 * What the JSON can honestly answer:
 * - An objective is judged only when the window is at least as long as the objective's window
 *   (an hourly objective needs `metrics.windowMs` ≥ 1 h); otherwise it is "not judged: not enough
 *   history". A window that covers less than that because the gateway started within it is
 *   judged and marked partial: the gateway served nothing before it started.
 * - Availability and error rate count 5xx answers, as the Prometheus report does: the JSON's
 *   error types carry the status (the catalogue's codes, `upstream_http_<status>`); client
 *   disconnects, drains and in-band stream errors are not 5xx.
 * - Percentiles are the JSON's p50, p95 and p99 (its log histogram, a few percent of relative
 *   error); another quantile is not judged. Bad events (observations above the threshold) are
 *   counted only for the end-to-end latency at a threshold on an edge of the JSON's latency
 *   histogram (0.1, 0.5, 1, 2, 5, 10 s); otherwise the budget's use is unknown (null).
 * - Scopes: the fleet and each model. The JSON's tenants carry requests and failures of any kind,
 *   not 5xx, and no latency: tenants appear in the cost only.
 * - The prefix-cache ROI prices token-priced models; the JSON does not split cached tokens by
 *   model and replica, so models charged by replica time are not priced.
 */

export interface GatewayWindowInput {
  readonly snapshot: MetricsApiResponse;
  /** Where the JSON was read, for the report's source line. */
  readonly url: string;
  readonly report: ReportConfig;
  readonly cost: CostConfig;
}

/** The upper edges of the JSON's latency buckets (LATENCY_BUCKET_LABELS but the last), seconds. */
const LATENCY_EDGES_SECONDS = [0.1, 0.5, 1, 2, 5, 10] as const;

const JSON_QUANTILES = { 0.5: 'p50', 0.95: 'p95', 0.99: 'p99' } as const;

/** Seconds an objective's window lasts; a month is the calendar month the report ends in. */
export function objectiveWindowSeconds(window: Objective['window'], endSeconds: number): number {
  if (window === 'hourly') return 3600;
  if (window === 'daily') return 86_400;
  const end = new Date(endSeconds * 1000);
  return (Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 1, 1) - Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), 1)) / 1000;
}

/** The HTTP status an error type of the JSON stands for; undefined when it is not an HTTP answer of the gateway. */
export function statusOfErrorType(errorType: string): number | undefined {
  const upstream = /^upstream_http_(\d{3})$/.exec(errorType);
  if (upstream !== null) return Number(upstream[1]);
  return Object.hasOwn(ERROR_CATALOGUE, errorType) ? ERROR_CATALOGUE[errorType as keyof typeof ERROR_CATALOGUE].status : undefined;
}

function serverErrors(byType: Readonly<Record<string, number>>): number {
  let count = 0;
  for (const [errorType, n] of Object.entries(byType)) if ((statusOfErrorType(errorType) ?? 0) >= 500) count += n;
  return count;
}

type ScopeFigures = Pick<Statistics, 'requests' | 'slo' | 'latency' | 'errors'>;

/** Why the JSON cannot judge the objective at all; undefined when it can. */
function notJudgedReason(objective: Objective, windowSeconds: number, endSeconds: number): string | undefined {
  const needed = objectiveWindowSeconds(objective.window, endSeconds);
  if (windowSeconds < needed) {
    return `not enough history: the gateway's JSON keeps the last ${windowSeconds} s (metrics.windowMs); a ${objective.window} objective needs ${needed} s (judge it with --prometheus)`;
  }
  if (objective.sli !== 'availability' && objective.sli !== 'error_rate' && !Object.hasOwn(JSON_QUANTILES, objective.quantile)) {
    return `the gateway's JSON has p50, p95 and p99 only, not p${Number((objective.quantile * 100).toPrecision(6))}`;
  }
  return undefined;
}

/** One scope's evaluator over the window, the single step 0. */
function evaluatorOf(objective: Objective, figures: ScopeFigures): Evaluator {
  if (objective.sli === 'availability' || objective.sli === 'error_rate') {
    return requestEvaluator(objective, { total: [figures.requests.total], errors: [serverErrors(figures.errors.by_type)] });
  }
  const key = JSON_QUANTILES[objective.quantile as keyof typeof JSON_QUANTILES];
  const measured = objective.sli === 'ttft' ? figures.slo.ttft : figures.latency;
  const threshold = objective.thresholdSeconds;
  const edge = LATENCY_EDGES_SECONDS.findIndex((candidate) => candidate === threshold);
  // Lower edges are inclusive: a request of exactly the threshold counts as above it.
  const bad =
    objective.sli === 'latency' && edge >= 0 ? LATENCY_BUCKET_LABELS.slice(edge + 1).reduce((sum, label) => sum + figures.latency.histogram[label], 0) : null;
  return {
    judge: () => {
      const events = measured.count;
      if (events === 0) return { events, bad: 0, figure: null, met: null };
      const figure = measured[key];
      return { events, bad, figure, met: figure <= threshold };
    },
    allowance: (events) => (1 - objective.quantile) * events,
    worse: (a, b) => a > b,
  };
}

function tenantTotals(figures: TenantFigures): CostTotals {
  return {
    costNanos: BigInt(figures.cost.total_nanos),
    inputTokens: figures.tokens.total_input,
    cachedInputTokens: figures.tokens.total_cached_input,
    outputTokens: figures.tokens.total_output,
  };
}

function statisticsTotals(figures: Pick<Statistics, 'cost' | 'tokens'>): CostTotals {
  return {
    costNanos: BigInt(figures.cost.total_nanos),
    inputTokens: figures.tokens.total_input,
    cachedInputTokens: figures.tokens.total_cached_input,
    outputTokens: figures.tokens.total_output,
  };
}

export function gatewayWindowReport(input: GatewayWindowInput): SlaReport {
  const { snapshot } = input;
  const endSeconds = Date.parse(snapshot.generated_at) / 1000;
  const spanSeconds = snapshot.span_seconds;
  const startSeconds = endSeconds - spanSeconds;
  const grid: StepGrid = { startSeconds, stepSeconds: spanSeconds, steps: 1 };
  const scopes: Array<[Scope, ScopeFigures]> = [
    [ALL_SCOPE, snapshot],
    ...Object.entries(snapshot.by_model).map(([name, figures]): [Scope, ScopeFigures] => [{ kind: 'model', name }, figures]),
  ];

  const objectives = input.report.objectives.map((objective): ObjectiveResult => {
    const title = objectiveTitle(objective);
    const notJudged = notJudgedReason(objective, snapshot.window_seconds, endSeconds);
    if (notJudged !== undefined) return { objective, title, met: null, scopes: [], notJudged };
    const window: WindowSpan = {
      startSeconds,
      endSeconds,
      partial: spanSeconds < objectiveWindowSeconds(objective.window, endSeconds),
      firstStep: 0,
      endStep: 1,
    };
    const results = scopes.map(([scope, figures]) => judgeScope(scope, evaluatorOf(objective, figures), grid, [window], 1));
    return { objective, title, met: results[0]!.met, scopes: results };
  });

  const byModel = new Map(Object.entries(snapshot.by_model).map(([name, figures]) => [name, statisticsTotals(figures)]));
  const cachedByModel = new Map([...byModel].map(([name, totals]) => [name, new Map([['', totals.cachedInputTokens]])]));
  const roi = prefixCacheRoi(cachedByModel, byModel, input.cost, input.report);
  return {
    source: `the last window of the gateway at ${input.url} (GET /api/v1/metrics: ${spanSeconds} s of its ${snapshot.window_seconds} s window; fleet and models only, tenants in the cost)`,
    from: new Date(startSeconds * 1000).toISOString(),
    to: snapshot.generated_at,
    stepSeconds: spanSeconds,
    objectives,
    cost: {
      currency: snapshot.cost.currency,
      total: costRow('all', statisticsTotals(snapshot)),
      byTenant: Object.entries(snapshot.by_tenant).map(([name, figures]) => costRow(name, tenantTotals(figures))),
      byModel: [...byModel].map(([name, totals]) => costRow(name, totals)),
    },
    prefixCacheRoi: {
      assumptions: [...roi.assumptions, "from a gateway's window: its JSON does not split cached tokens by replica, so models charged by replica time are not priced."],
      byModel: roi.byModel,
    },
  };
}
