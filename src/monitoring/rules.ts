import { KEY_BUDGET_RATIOS } from '../ratelimit/budget-report.js';
import { TTFT_BUCKETS } from '../telemetry/metrics/instruments.js';
import type { MonitoringConfig, PromDuration } from './config.js';

/**
 * Tollbooth's Prometheus rules as data: recording rules named `level:metric:operations`, alerts
 * named for the symptom with `severity`, their scope labels, `summary`, `description` and
 * `runbook_url`. Every metric read here is exported by src/telemetry/metrics/instruments.ts;
 * dashboards and alerts read the recorded series, so a query lives in one place.
 */

export type Severity = 'critical' | 'warning' | 'info';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: PromDuration;
  readonly labels: { readonly severity: Severity } & Readonly<Record<string, string>>;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface RuleGroup<Rule = RecordingRule | AlertRule> {
  readonly name: string;
  readonly rules: readonly Rule[];
}

export function isAlertRule(rule: RecordingRule | AlertRule): rule is AlertRule {
  return 'alert' in rule;
}

/**
 * Requests that named no model (model="none": the admin listener's own /metrics scrapes, /health,
 * /ready, GET /v1/models) are the gateway's bookkeeping, not traffic of a model: the per-model
 * rates, ratios and latencies leave them out, so Prometheus's scrapes never count as requests.
 */
export const MODEL_TRAFFIC = 'model!="none"';

/** The rate window of the recorded latencies, rates and ratios that dashboards and the plain alerts read. */
export const RATE_WINDOW = '5m';

/** The latency histograms recorded as quantiles: metric name, and the short name a dashboard panel shows. */
export const LATENCY_HISTOGRAMS = [
  { metric: 'tollbooth_time_to_first_token_seconds', title: 'TTFT' },
  { metric: 'tollbooth_time_per_output_token_seconds', title: 'TPOT' },
  { metric: 'tollbooth_e2e_request_latency_seconds', title: 'end-to-end latency' },
] as const;

export const QUANTILES = [
  { value: 0.5, name: 'p50' },
  { value: 0.95, name: 'p95' },
  { value: 0.99, name: 'p99' },
] as const;

/** Aggregation levels of the per-request histograms: the level prefix is the labels kept, joined by `_`. */
const LATENCY_LEVELS = [['model'], ['model', 'replica']] as const;

/**
 * Google SRE workbook, "Alerting on SLOs", multi-window multi-burn-rate: page when 2 % of a 30-day
 * budget burns in an hour (14.4×, confirmed over 5 m) or 5 % in 6 hours (6×, confirmed over 30 m);
 * open a ticket when 10 % burns in 3 days (1×, confirmed over 6 h).
 */
export const BURN_RATE_ALERTS = [
  { speed: 'Fast', severity: 'critical', conditions: [
    { factor: 14.4, long: '1h', short: '5m' },
    { factor: 6, long: '6h', short: '30m' },
  ] },
  { speed: 'Slow', severity: 'warning', conditions: [{ factor: 1, long: '3d', short: '6h' }] },
] as const satisfies readonly { speed: string; severity: Severity; conditions: readonly { factor: number; long: PromDuration; short: PromDuration }[] }[];

/** Every window a burn-rate condition reads, each recorded once. */
export const SLO_WINDOWS: readonly PromDuration[] = [
  ...new Set(BURN_RATE_ALERTS.flatMap((alert) => alert.conditions.flatMap((condition) => [condition.short, condition.long]))),
];

export const recordName = {
  quantile: (level: readonly string[], metric: string, quantile: string) => `${level.join('_')}:${metric}:${quantile}_rate${RATE_WINDOW}`,
  requestRate: `model:tollbooth_requests:rate${RATE_WINDOW}`,
  errorRate: `model:tollbooth_request_errors:rate${RATE_WINDOW}`,
  errorRatio: (window: PromDuration) => `model:tollbooth_request_errors:ratio_rate${window}`,
  ttftSlowRatio: (window: PromDuration) => `model:tollbooth_time_to_first_token_slow:ratio_rate${window}`,
  tokenRate: `model_kind:tollbooth_tokens:rate${RATE_WINDOW}`,
  costRate: `tenant_currency:tollbooth_cost_micros:rate${RATE_WINDOW}`,
  affinityRatio: `model:tollbooth_routing_affinity:ratio_rate${RATE_WINDOW}`,
  engineWaiting: 'replica:tollbooth_replica_engine_waiting_requests:max',
  replicaModel: 'replica_model:tollbooth_replica_model_info:max',
  replicaAvailable: 'replica:tollbooth_replica_available:max',
  modelReplicasAvailable: 'model:tollbooth_replicas_available:sum',
  overheadP99: `instance:tollbooth_overhead_seconds:p99_rate${RATE_WINDOW}`,
} as const;

/**
 * A bucket boundary written either way: `1` as prom-client exposes it (and Prometheus 2.42 stores
 * it: run here), or `1.0`, the float form in which a protobuf scrape or Prometheus 3's label
 * normalisation may store it.
 */
function bucketMatcher(boundary: number): string {
  const text = String(boundary);
  const variants = Number.isInteger(boundary) ? [text, `${text}.0`] : [text];
  return `le=~"${variants.map((variant) => variant.replaceAll('.', '\\\\.')).join('|')}"`;
}

/** A ratio without floating-point noise (1 - 0.999 is 0.0010000000000000009). */
function decimal(value: number): string {
  return String(Number(value.toPrecision(6)));
}

function percent(ratio: number): string {
  return `${decimal(ratio * 100)} %`;
}

/** A series that carries `model` when the replica's models are known, and only `replica` otherwise. */
function withReplicaModel(expr: string): string {
  return `(\n  ${expr} * on (replica) group_right () ${recordName.replicaModel}\nor on (replica)\n  ${expr}\n)`;
}

export function recordingRuleGroups(config: MonitoringConfig): RuleGroup<RecordingRule>[] {
  const { slo } = config;
  if (!TTFT_BUCKETS.includes(slo.ttft.thresholdSeconds)) {
    throw new Error(`slo.ttft.thresholdSeconds ${slo.ttft.thresholdSeconds} is not a TTFT bucket boundary (${TTFT_BUCKETS.join(', ')})`);
  }
  const ratio = (numerator: string, denominator: string) => `${numerator}\n/\n${denominator}`;
  const requests = (selector: string, window: string) => `sum by (model) (rate(tollbooth_requests_total{${[MODEL_TRAFFIC, selector].filter(Boolean).join(', ')}}[${window}]))`;
  // A model that never had a 5xx has no 5xx series: `or 0 * …` makes its error rate 0, not absent
  // (a dashboard shows 0 %, and the ratio exists for every model that has traffic).
  const errors = (window: string) => `(\n  ${requests('status_class="5xx"', window)}\nor\n  0 * ${requests('', window)}\n)`;
  const ttftGood = (window: string) => `sum by (model) (rate(tollbooth_time_to_first_token_seconds_bucket{${bucketMatcher(slo.ttft.thresholdSeconds)}}[${window}]))`;
  const ttftAll = (window: string) => `sum by (model) (rate(tollbooth_time_to_first_token_seconds_count[${window}]))`;
  return [
    {
      name: 'tollbooth.latency.rules',
      rules: [
        ...LATENCY_HISTOGRAMS.flatMap(({ metric }) =>
          LATENCY_LEVELS.flatMap((level) =>
            QUANTILES.map((quantile) => ({
              record: recordName.quantile(level, metric, quantile.name),
              expr: `histogram_quantile(${quantile.value}, sum by (le, ${level.join(', ')}) (rate(${metric}_bucket{${MODEL_TRAFFIC}}[${RATE_WINDOW}])))`,
            })),
          ),
        ),
        {
          record: recordName.overheadP99,
          expr: `histogram_quantile(0.99, sum by (le, job, instance) (rate(tollbooth_overhead_seconds_bucket[${RATE_WINDOW}])))`,
        },
      ],
    },
    {
      name: 'tollbooth.traffic.rules',
      rules: [
        { record: recordName.requestRate, expr: requests('', RATE_WINDOW) },
        { record: recordName.errorRate, expr: errors(RATE_WINDOW) },
        { record: recordName.tokenRate, expr: `sum by (model, kind) (rate(tollbooth_tokens_total[${RATE_WINDOW}]))` },
        { record: recordName.costRate, expr: `sum by (tenant, currency) (rate(tollbooth_cost_micros_total[${RATE_WINDOW}]))` },
        {
          record: recordName.affinityRatio,
          expr: ratio(
            `sum by (model) (rate(tollbooth_routing_decisions_total{outcome="affinity"}[${RATE_WINDOW}]))`,
            `sum by (model) (rate(tollbooth_routing_decisions_total{outcome=~"affinity|overflow"}[${RATE_WINDOW}]))`,
          ),
        },
      ],
    },
    {
      // Every gateway instance reports every replica: the fleet's view is the max over instances
      // (a replica is available when any gateway reaches it; its queue is the latest largest figure).
      name: 'tollbooth.fleet.rules',
      rules: [
        { record: recordName.engineWaiting, expr: 'max by (replica) (tollbooth_replica_engine_waiting_requests)' },
        { record: recordName.replicaModel, expr: 'max by (replica, model) (tollbooth_replica_model_info)' },
        {
          record: recordName.replicaAvailable,
          expr: 'max by (replica) (tollbooth_replica_healthy * on (job, instance, replica) (1 - tollbooth_replica_circuit_state{state="open"}))',
        },
        {
          record: recordName.modelReplicasAvailable,
          expr: `sum by (model) (${recordName.replicaAvailable} * on (replica) group_right () ${recordName.replicaModel})`,
        },
      ],
    },
    {
      // The SLIs over every window the burn-rate alerts read; the 5 m error ratio is also the
      // reference's error-rate alert's.
      name: 'tollbooth.slo.rules',
      rules: SLO_WINDOWS.flatMap((window) => [
        { record: recordName.errorRatio(window), expr: ratio(errors(window), requests('', window)) },
        { record: recordName.ttftSlowRatio(window), expr: `1 - (\n${ratio(ttftGood(window), ttftAll(window))}\n)` },
      ]),
    },
  ];
}

export function alertRuleGroups(config: MonitoringConfig): RuleGroup<AlertRule>[] {
  const { thresholds: t, slo } = config;
  const budget = t.budgetSpentRatio;
  for (const ratio of [budget.nearlySpent, budget.spent]) {
    if (!(KEY_BUDGET_RATIOS as readonly number[]).includes(ratio)) {
      throw new Error(`thresholds.budgetSpentRatio ${ratio} is not one of the shares the gateway counts keys at (${KEY_BUDGET_RATIOS.join(', ')})`);
    }
  }
  // Every gateway sharing a Redis exports the same (shared) budget figures: max by keeps one.
  const budgetFigure = (metric: string) => `max by (tenant, period) (${metric})`;
  const spans = (selector: string) => `sum by (job, instance) (rate(tollbooth_trace_export_spans_total${selector === '' ? '' : `{${selector}}`}[${RATE_WINDOW}]))`;
  const ratioOfSpans = (selector: string) => `(\n  ${spans(selector)}\n/\n  ${spans('')}\n)`;
  const runbook = (alert: string) => `${config.runbookBaseUrl}#${alert.toLowerCase()}`;
  const alert = (rule: Omit<AlertRule, 'annotations'> & { summary: string; description: string }): AlertRule => {
    const { summary, description, ...rest } = rule;
    return { ...rest, annotations: { summary, description, runbook_url: runbook(rule.alert) } };
  };
  const burnRateAlerts = (sli: { name: string; what: string; objective: number; ratio: (window: PromDuration) => string }) =>
    BURN_RATE_ALERTS.map(({ speed, severity, conditions }) => {
      const budget = 1 - sli.objective;
      const expr = conditions
        .map(({ factor, long, short }) => `(\n  ${sli.ratio(long)} > ${factor} * ${decimal(budget)}\nand\n  ${sli.ratio(short)} > ${factor} * ${decimal(budget)}\n)`)
        .join('\nor\n');
      const windows = conditions.map(({ factor, long, short }) => `${factor}× over ${long} and ${short}`).join(', or ');
      return alert({
        alert: `Tollbooth${sli.name}BudgetBurn${speed}`,
        expr,
        labels: { severity },
        summary: `{{ $labels.model }} is burning its ${sli.what} error budget ${speed === 'Fast' ? 'fast' : 'steadily'}`,
        description:
          // An `and` keeps its left side's value: the long window's ratio.
          `{{ $labels.model }}: {{ $value | humanizePercentage }} of ${sli.what === 'availability' ? 'requests failed (5xx)' : `streams took longer than ${slo.ttft.thresholdSeconds} s to the first token`} ` +
          `over the long window; the objective allows ${percent(budget)} (SLO ${percent(sli.objective)}); fires at a burn rate of ${windows}.`,
      });
    });
  return [
    {
      name: 'tollbooth.alerts',
      rules: [
        alert({
          alert: 'TollboothEngineQueueLong',
          expr: `${withReplicaModel(recordName.engineWaiting)} > ${t.engineQueueWaiting.value}`,
          for: t.engineQueueWaiting.for,
          labels: { severity: 'warning' },
          summary: 'Replica {{ $labels.replica }} has a long engine queue',
          description: `{{ $value | humanize }} requests wait in the engine of {{ $labels.replica }} (more than ${t.engineQueueWaiting.value} for ${t.engineQueueWaiting.for}).`,
        }),
        alert({
          alert: 'TollboothHighTTFT',
          expr: `${recordName.quantile(['model'], 'tollbooth_time_to_first_token_seconds', 'p95')} > ${t.ttftP95Seconds.value}`,
          for: t.ttftP95Seconds.for,
          labels: { severity: 'warning' },
          summary: 'TTFT p95 of {{ $labels.model }} is high',
          description: `TTFT p95 of {{ $labels.model }} is {{ $value | humanizeDuration }} (above ${t.ttftP95Seconds.value} s for ${t.ttftP95Seconds.for}).`,
        }),
        alert({
          alert: 'TollboothHighErrorRate',
          expr: `${recordName.errorRatio(RATE_WINDOW)} > ${t.errorRatio.value}`,
          for: t.errorRatio.for,
          labels: { severity: 'critical' },
          summary: '{{ $labels.model }} answers many requests with 5xx',
          description: `{{ $value | humanizePercentage }} of the requests for {{ $labels.model }} ended in a 5xx (above ${percent(t.errorRatio.value)} for ${t.errorRatio.for}).`,
        }),
        alert({
          alert: 'TollboothReplicaUnavailable',
          expr: `${withReplicaModel(recordName.replicaAvailable)} == 0`,
          for: t.replicaUnavailableFor,
          labels: { severity: 'warning' },
          summary: 'Replica {{ $labels.replica }} takes no traffic',
          description: `No gateway routes to {{ $labels.replica }}: its /health probe fails or its circuit breaker ejected it (for ${t.replicaUnavailableFor}).`,
        }),
        alert({
          alert: 'TollboothModelUnavailable',
          expr: `${recordName.modelReplicasAvailable} == 0`,
          for: t.modelUnavailableFor,
          labels: { severity: 'critical' },
          summary: 'Every replica of {{ $labels.model }} is down or ejected',
          description: `No replica serving {{ $labels.model }} is available (for ${t.modelUnavailableFor}): its requests get 503 no_replica_available.`,
        }),
        alert({
          alert: 'TollboothRateLimitStoreDegraded',
          expr: 'max by (job, instance) (tollbooth_rate_limit_store_degraded) == 1',
          for: t.rateLimitStoreDegradedFor,
          labels: { severity: 'warning' },
          summary: 'Gateway {{ $labels.instance }} cannot use the shared rate-limit store',
          description: `The shared rate-limit store (Redis) has been unusable from {{ $labels.instance }} for ${t.rateLimitStoreDegradedFor}: limits are enforced per instance or requests are refused, per rateLimits.onStoreError.`,
        }),
        alert({
          alert: 'TollboothTenantBudgetExhausted',
          expr: `sum by (tenant) (increase(tollbooth_rate_limit_decisions_total{outcome="limited", limit="budget"}[${t.counterIncreaseWindow}])) > 0`,
          labels: { severity: 'warning' },
          summary: 'Tenant {{ $labels.tenant }} has keys over their budget',
          description: `{{ $value | humanize }} requests of tenant {{ $labels.tenant }} were refused in the last ${t.counterIncreaseWindow} because their key's daily or monthly budget is spent (429, x-should-retry: false).`,
        }),
        alert({
          alert: 'TollboothTenantBudgetNearlySpent',
          expr: `${budgetFigure('tollbooth_budget_spent_ratio')} >= ${budget.nearlySpent} < ${budget.spent}`,
          for: budget.for,
          labels: { severity: 'warning' },
          summary: 'Tenant {{ $labels.tenant }} has spent most of its {{ $labels.period }} budget',
          description: `Tenant {{ $labels.tenant }} has spent {{ $value | humanizePercentage }} of its budget for the {{ $labels.period }} (the sum of its keys' caps; at least ${percent(budget.nearlySpent)} for ${budget.for}).`,
        }),
        alert({
          alert: 'TollboothTenantBudgetSpent',
          expr: `${budgetFigure('tollbooth_budget_spent_ratio')} >= ${budget.spent}`,
          for: budget.for,
          labels: { severity: 'warning' },
          summary: 'Tenant {{ $labels.tenant }} has spent its {{ $labels.period }} budget',
          description: `Tenant {{ $labels.tenant }} has spent {{ $value | humanizePercentage }} of its budget for the {{ $labels.period }} (the sum of its keys' caps; at least ${percent(budget.spent)} for ${budget.for}).`,
        }),
        alert({
          alert: 'TollboothTenantBudgetRunningOut',
          expr: `${budgetFigure('tollbooth_budget_exhaustion_forecast_seconds')} > 0`,
          for: t.budgetRunningOutFor,
          labels: { severity: 'warning' },
          summary: 'Tenant {{ $labels.tenant }} runs out of its {{ $labels.period }} budget at the current spend rate',
          description: `At its current spend rate tenant {{ $labels.tenant }} spends its {{ $labels.period }} budget in {{ $value | humanizeDuration }}, before the {{ $labels.period }} ends (forecast held for ${t.budgetRunningOutFor}).`,
        }),
        alert({
          alert: 'TollboothKeyBudgetsNearlySpent',
          expr: `(\n  ${budgetFigure(`tollbooth_budget_keys_spent{ratio="${budget.nearlySpent}"}`)}\n-\n  ${budgetFigure(`tollbooth_budget_keys_spent{ratio="${budget.spent}"}`)}\n) > 0`,
          for: budget.for,
          labels: { severity: 'warning' },
          summary: 'Keys of tenant {{ $labels.tenant }} have spent most of their {{ $labels.period }} budget',
          description: `{{ $value | humanize }} keys of tenant {{ $labels.tenant }} have spent at least ${percent(budget.nearlySpent)} but less than ${percent(budget.spent)} of their own budget for the {{ $labels.period }} (for ${budget.for}); GET /api/v1/budgets on the admin listener names them.`,
        }),
        alert({
          alert: 'TollboothKeyBudgetsSpent',
          expr: `${budgetFigure(`tollbooth_budget_keys_spent{ratio="${budget.spent}"}`)} > 0`,
          for: budget.for,
          labels: { severity: 'warning' },
          summary: 'Keys of tenant {{ $labels.tenant }} have spent their {{ $labels.period }} budget',
          description: `{{ $value | humanize }} keys of tenant {{ $labels.tenant }} have spent at least ${percent(budget.spent)} of their own budget for the {{ $labels.period }} (for ${budget.for}): their requests get 429 until it ends; GET /api/v1/budgets on the admin listener names them.`,
        }),
        alert({
          alert: 'TollboothHighGatewayOverhead',
          expr: `${recordName.overheadP99} > ${t.overheadP99Seconds.value}`,
          for: t.overheadP99Seconds.for,
          labels: { severity: 'warning' },
          summary: 'Gateway {{ $labels.instance }} adds too much latency',
          description: `The overhead p99 of {{ $labels.instance }} is {{ $value | humanizeDuration }} (above ${t.overheadP99Seconds.value} s for ${t.overheadP99Seconds.for}).`,
        }),
        alert({
          alert: 'TollboothInternalErrors',
          expr: `sum by (job, instance, stage) (increase(tollbooth_internal_errors_total[${t.counterIncreaseWindow}])) > 0`,
          labels: { severity: 'warning' },
          summary: 'Gateway {{ $labels.instance }} caught internal errors in {{ $labels.stage }}',
          description: `{{ $value | humanize }} errors were caught in stage {{ $labels.stage }} of {{ $labels.instance }} in the last ${t.counterIncreaseWindow}; the process kept serving. Any increase is a bug worth reporting.`,
        }),
        alert({
          alert: 'TollboothTraceExportFailing',
          expr: ratioOfSpans('outcome=~"failed|dropped"') + ` > ${t.traceExportFailedRatio.value}`,
          for: t.traceExportFailedRatio.for,
          labels: { severity: 'warning' },
          summary: 'Gateway {{ $labels.instance }} loses its traces',
          description: `{{ $value | humanizePercentage }} of the spans of {{ $labels.instance }} failed to export to the OTLP collector or were dropped from the full export queue (above ${percent(t.traceExportFailedRatio.value)} for ${t.traceExportFailedRatio.for}); requests are served as usual.`,
        }),
      ],
    },
    {
      name: 'tollbooth.slo.alerts',
      rules: [
        ...burnRateAlerts({ name: 'Availability', what: 'availability', objective: slo.availability.objective, ratio: recordName.errorRatio }),
        ...burnRateAlerts({ name: 'TTFT', what: 'TTFT', objective: slo.ttft.objective, ratio: recordName.ttftSlowRatio }),
      ],
    },
  ];
}

/** Recording rules first (alerts read them), then alerts. */
export function ruleGroups(config: MonitoringConfig): RuleGroup[] {
  return [...recordingRuleGroups(config), ...alertRuleGroups(config)];
}
