import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as HeatmapPanelBuilder } from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import type { MonitoringConfig } from './config.js';
import { QUANTILES, RATE_WINDOW, recordName } from './rules.js';

/**
 * Tollbooth's Grafana dashboards as code (@grafana/grafana-foundation-sdk builders), rendered to
 * deploy/grafana/dashboards/*.json by src/cli/generate-monitoring.ts. Panels read the recorded
 * series of rules.ts (`recordName`) where one exists, so a query lives in one place; they query raw
 * histograms where Grafana must see the buckets: exemplars hang on the raw `_bucket` series (a
 * recorded quantile has none), and `$replica` filters a label the per-model records aggregated away.
 */

export const DASHBOARDS_DIR = 'deploy/grafana/dashboards';

/** Every panel's data source: the `datasource` template variable, so one JSON works with any Prometheus. */
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** The template variables' matchers: `All` selects `.*`, several values become `(a|b)`. */
const MODEL = 'model=~"$model"';
const REPLICA = 'replica=~"$replica"';
/** vLLM names the model `model_name`; its series carry no `replica` (that is the gateway's name for it). */
const ENGINE_MODEL = 'model_name=~"$model"';

/** Grafana widens it to at least four scrape intervals, so a rate always has two samples. */
const RATE_INTERVAL = '$__rate_interval';

export type Unit = 's' | 'reqps' | 'percentunit' | 'short' | 'bytes' | `currency${string}`;

/** One PromQL target: its expression and the legend of its series. */
interface Query {
  readonly expr: string;
  readonly legend: string;
  /** An instant query (a table of what is true now), not a range. */
  readonly instant?: boolean;
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: Unit;
  readonly queries: readonly Query[];
  /** Panel width in grid columns (24 is the full width). */
  readonly width?: number;
}

const rate = (selector: string) => `rate(${selector}[${RATE_INTERVAL}])`;
const increase = (selector: string) => `increase(${selector}[${RATE_INTERVAL}])`;

/** A quantile of a histogram over the panel's own interval, by the labels kept. */
function histogramQuantile(quantile: number, metric: string, matchers: string, by: readonly string[] = []): string {
  const selector = matchers === '' ? `${metric}_bucket` : `${metric}_bucket{${matchers}}`;
  return `histogram_quantile(${quantile}, sum by (${['le', ...by].join(', ')}) (${rate(selector)}))`;
}

function target(query: Query, index: number, exemplars: boolean): DataqueryBuilder {
  const builder = new DataqueryBuilder()
    .refId(String.fromCharCode(65 + index))
    .datasource(DATASOURCE)
    .expr(query.expr)
    .legendFormat(query.legend)
    .exemplar(exemplars);
  return query.instant === true ? builder.instant().format(PromQueryFormat.Table) : builder.range();
}

const legend = () => new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom);

/** Lines over time; `exemplars` for the histogram panels, whose dots link to Jaeger. */
function timeseries(spec: PanelSpec, options: { exemplars?: boolean } = {}): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(8)
    .legend(legend());
  spec.queries.forEach((query, index) => panel.withTarget(target(query, index, options.exemplars ?? false)));
  return panel;
}

/** One figure, now (the latest value of each series). */
function stat(spec: PanelSpec): StatPanelBuilder {
  const panel = new StatPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 6)
    .height(5)
    .graphMode(common.BigValueGraphMode.Area)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
  spec.queries.forEach((query, index) => panel.withTarget(target(query, index, false)));
  return panel;
}

function table(spec: PanelSpec): TablePanelBuilder {
  const panel = new TablePanelBuilder().title(spec.title).description(spec.description).datasource(DATASOURCE).unit(spec.unit).span(spec.width ?? 24).height(7);
  spec.queries.forEach((query, index) => panel.withTarget(target(query, index, false)));
  return panel;
}

/** The rules' quantiles (p50, p95, p99) of one histogram per model, from its buckets, as lines with exemplars. */
function quantilePanel(title: string, description: string, metric: string, matchers: string): TimeseriesPanelBuilder {
  return timeseries(
    {
      title,
      description,
      unit: 's',
      queries: QUANTILES.map((quantile) => ({ expr: histogramQuantile(quantile.value, metric, matchers, ['model']), legend: `{{model}} ${quantile.name}` })),
    },
    { exemplars: true },
  );
}

/**
 * The gateway's histogram beside vLLM's for the same measure: the shared buckets (vLLM's, in
 * src/telemetry/metrics/instruments.ts) make the two quantiles comparable; the gap is what the
 * network and the gateway add.
 */
function gatewayBesideEngine(title: string, gatewayMetric: string, engineMetric: string): TimeseriesPanelBuilder {
  return timeseries(
    {
      title,
      description: `p95 of the gateway's ${gatewayMetric} beside the engine's own ${engineMetric} (same buckets): the difference is what the network and the gateway add.`,
      unit: 's',
      queries: [
        { expr: histogramQuantile(0.95, gatewayMetric, `${MODEL}, ${REPLICA}`, ['model']), legend: '{{model}} gateway p95' },
        { expr: histogramQuantile(0.95, engineMetric, ENGINE_MODEL, ['model_name']), legend: '{{model_name}} engine p95' },
      ],
    },
    { exemplars: true },
  );
}

type AnyPanelBuilder = TimeseriesPanelBuilder | StatPanelBuilder | TablePanelBuilder | HeatmapPanelBuilder;

function dashboard(uid: string, title: string, description: string, panels: readonly AnyPanelBuilder[]): DashboardBuilder {
  const builder = new DashboardBuilder(title)
    .uid(uid)
    .description(`${description} Generated by \`npm run generate:monitoring\` from src/monitoring/dashboards.ts: edit the source, not the JSON.`)
    .tags(['tollbooth'])
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    // One crosshair across panels: a TTFT spike lines up with the queue or the GC pause beside it.
    .tooltip(DashboardCursorSync.Crosshair)
    .variables(templateVariables())
    // The other Tollbooth dashboards, keeping the time range and the model and replica chosen.
    .link(new DashboardLinkBuilder('Tollbooth').type(DashboardLinkType.Dashboards).tags(['tollbooth']).asDropdown(true).includeVars(true).keepTime(true));
  // Stable ids (Grafana keys panel links and state by them), in reading order.
  panels.forEach((panel, index) => builder.withPanel(panel.id(index + 1)));
  return builder;
}

/** `datasource`, `model` and `replica`: every dashboard has the three, so links between them keep the selection. */
function templateVariables() {
  const labelValues = (name: string, label: string, query: string) =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(DATASOURCE)
      .query({ query, refId: `${name}-values` })
      .definition(query)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      // `.*`, not Grafana's default list of every value: a model that appears later still matches.
      .allValue('.*')
      .current({ text: 'All', value: '$__all' });
  return [
    new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'),
    // model="none" marks requests that named no model (scrapes, /health): not a model.
    labelValues('model', 'Model', 'label_values(tollbooth_requests_total{model!="none"}, model)'),
    labelValues('replica', 'Replica', `label_values(${recordName.replicaModel}{${MODEL}}, replica)`),
  ];
}

function overview(config: MonitoringConfig): DashboardBuilder {
  const targetsUp = (title: string, job: string, what: string) =>
    stat({ title, description: `${what} Prometheus scraped successfully (job ${job}), of all it scrapes.`, unit: 'short', queries: [
      { expr: `sum(up{job="${job}"})`, legend: 'up' },
      { expr: `count(up{job="${job}"})`, legend: 'scraped' },
    ], width: 12 });
  return dashboard('tollbooth-overview', 'Tollbooth / Overview', 'Status, traffic, success, token timing and firing alerts of the Tollbooth gateways and their models.', [
    targetsUp('Gateways up', config.tollbooth.job, 'Gateway instances (admin listeners)'),
    targetsUp('vLLM replicas up', config.vllm.job, "vLLM replicas' own /metrics endpoints"),
    timeseries({
      title: 'Requests per second',
      description: 'Completed requests per model (5 m rate, recorded).',
      unit: 'reqps',
      queries: [{ expr: `sum by (model) (${recordName.requestRate}{${MODEL}})`, legend: '{{model}}' }],
      width: 8,
    }),
    timeseries({
      title: 'Success rate',
      description: 'Share of requests that did not end in a 5xx (5 m, recorded; the availability SLI).',
      unit: 'percentunit',
      queries: [{ expr: `1 - ${recordName.errorRatio(RATE_WINDOW)}{${MODEL}}`, legend: '{{model}}' }],
      width: 8,
    }),
    timeseries({
      title: 'Tokens per second',
      description: 'Input, cached input and output tokens per second (5 m rate, recorded).',
      unit: 'short',
      queries: [{ expr: `sum by (model, kind) (${recordName.tokenRate}{${MODEL}})`, legend: '{{model}} {{kind}}' }],
      width: 8,
    }),
    quantilePanel('Time to first token', 'Arrival at the gateway to the first content chunk written to the client (successful streams). Dots are exemplars: each opens its trace.', 'tollbooth_time_to_first_token_seconds', `${MODEL}, ${REPLICA}`),
    quantilePanel('Time per output token', 'Per request: decode time / (completion tokens - 1), tokens from usage. Dots are exemplars.', 'tollbooth_time_per_output_token_seconds', `${MODEL}, ${REPLICA}`),
    table({
      title: 'Firing alerts',
      description: 'Alerts firing now, from Prometheus\'s ALERTS series; each alert\'s runbook_url is in Alertmanager.',
      unit: 'short',
      queries: [{ expr: 'sum by (alertname, severity, model, replica, tenant, instance) (ALERTS{alertstate="firing"})', legend: '{{alertname}}', instant: true }],
    }),
  ]);
}

function fleet(): DashboardBuilder {
  const perReplica = (title: string, description: string, unit: Unit, metric: string) =>
    timeseries({ title, description, unit, queries: [{ expr: `max by (replica) (${metric}{${REPLICA}})`, legend: '{{replica}}' }], width: 8 });
  // GPU memory is left out on purpose: vLLM exports none, and its metric (DCGM's) lands with another change.
  return dashboard('tollbooth-fleet', 'Tollbooth / Fleet', 'The vLLM replicas as the gateways see them: load, engine queue, caches, circuit breakers and routing.', [
    timeseries({
      title: 'In-flight requests per replica',
      description: 'Requests dispatched and not finished, summed over gateway instances.',
      unit: 'short',
      queries: [{ expr: `sum by (replica) (tollbooth_replica_in_flight_requests{${REPLICA}})`, legend: '{{replica}}' }],
      width: 8,
    }),
    timeseries({
      title: 'Engine queue per replica',
      description: "vLLM's waiting requests (recorded, max over gateways) and running requests, from each replica's /metrics as the gateway reads it.",
      unit: 'short',
      queries: [
        { expr: `${recordName.engineWaiting}{${REPLICA}}`, legend: '{{replica}} waiting' },
        { expr: `max by (replica) (tollbooth_replica_engine_running_requests{${REPLICA}})`, legend: '{{replica}} running' },
      ],
      width: 8,
    }),
    perReplica('KV-cache usage per replica', "vLLM's kv_cache_usage_perc, 0-1.", 'percentunit', 'tollbooth_replica_engine_kv_cache_usage_ratio'),
    perReplica('Prefix-cache hit ratio per replica', "Share of prompt tokens the engine's prefix cache served between two reads of its /metrics.", 'percentunit', 'tollbooth_replica_engine_prefix_cache_hit_ratio'),
    timeseries({
      title: 'Circuit state',
      description: "Each replica's current circuit state (closed: taking traffic, open: ejected, half_open: on trial).",
      unit: 'short',
      queries: [{ expr: `max by (replica, state) (tollbooth_replica_circuit_state{${REPLICA}}) > 0`, legend: '{{replica}} {{state}}' }],
      width: 8,
    }),
    timeseries({
      title: 'Ejections',
      description: 'Times a circuit breaker ejected the replica (consecutive failures).',
      unit: 'short',
      queries: [{ expr: `sum by (replica) (${increase(`tollbooth_replica_ejections_total{${REPLICA}}`)})`, legend: '{{replica}}' }],
      width: 8,
    }),
    timeseries({
      title: 'Replicas available per model',
      description: 'Healthy replicas whose circuit is not open (recorded; 0 pages TollboothModelUnavailable).',
      unit: 'short',
      queries: [{ expr: `${recordName.modelReplicasAvailable}{${MODEL}}`, legend: '{{model}}' }],
      width: 8,
    }),
    timeseries({
      title: 'Routing outcomes',
      description: "First-replica choices: affinity (the session's replica), overflow (it was over its load bound), no_key, least_loaded, round_robin.",
      unit: 'reqps',
      queries: [{ expr: `sum by (outcome) (${rate(`tollbooth_routing_decisions_total{${MODEL}}`)})`, legend: '{{outcome}}' }],
    }),
    timeseries({
      title: 'Session affinity ratio',
      description: 'Share of keyed requests that reached their session\'s replica (5 m, recorded): a low figure loses the KV cache.',
      unit: 'percentunit',
      queries: [{ expr: `${recordName.affinityRatio}{${MODEL}}`, legend: '{{model}}' }],
    }),
    gatewayBesideEngine('TTFT: gateway beside engine', 'tollbooth_time_to_first_token_seconds', 'vllm:time_to_first_token_seconds'),
    gatewayBesideEngine('Time per output token: gateway beside engine', 'tollbooth_time_per_output_token_seconds', 'vllm:request_time_per_output_token_seconds'),
    gatewayBesideEngine('End-to-end latency: gateway beside engine', 'tollbooth_e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds'),
  ]);
}

function tenantsAndCost(config: MonitoringConfig): DashboardBuilder {
  const currency = `currency="${config.costCurrency}"`;
  // cost_micros_total counts millionths of the currency; per hour reads better than per second.
  const perHour = (expr: string) => `${expr} * 3600 / 1e6`;
  return dashboard('tollbooth-tenants', 'Tollbooth / Tenants & cost', 'Tokens and cost per tenant and model, budgets, rate-limit decisions and the shared rate-limit store.', [
    timeseries({
      title: 'Tokens per second by tenant and model',
      description: 'Input, cached input and output tokens (exact and estimated).',
      unit: 'short',
      queries: [{ expr: `sum by (tenant, model, kind) (${rate(`tollbooth_tokens_total{${MODEL}}`)})`, legend: '{{tenant}} {{model}} {{kind}}' }],
    }),
    timeseries({
      title: 'Cost per hour by tenant',
      description: `Spend per hour in ${config.costCurrency} (5 m rate, recorded).`,
      unit: `currency${config.costCurrency}`,
      queries: [{ expr: perHour(`sum by (tenant) (${recordName.costRate}{${currency}})`), legend: '{{tenant}}' }],
    }),
    timeseries({
      title: 'Cost per hour by model',
      description: `Spend per hour in ${config.costCurrency}.`,
      unit: `currency${config.costCurrency}`,
      queries: [{ expr: perHour(`sum by (model) (${rate(`tollbooth_cost_micros_total{${MODEL}, ${currency}}`)})`), legend: '{{model}}' }],
    }),
    timeseries({
      title: 'Rate-limit decisions',
      description: 'Admitted, limited (by requests, tokens, concurrency or budget) and unavailable (store down), per tenant.',
      unit: 'reqps',
      queries: [{ expr: `sum by (tenant, outcome, limit) (${rate('tollbooth_rate_limit_decisions_total')})`, legend: '{{tenant}} {{outcome}} {{limit}}' }],
    }),
    // Every gateway sharing a Redis exports the same (shared) budget figures: max keeps one.
    timeseries({
      title: 'Budget spent by tenant',
      description: "Share of each tenant's day and month budget spent (its keys' spend over the sum of their caps), read from the rate-limit store.",
      unit: 'percentunit',
      queries: [{ expr: 'max by (tenant, period) (tollbooth_budget_spent_ratio)', legend: '{{tenant}} {{period}}' }],
    }),
    timeseries({
      title: 'Keys near or over their budget',
      description: 'Keys of each tenant that have spent at least 80 % and at least 100 % of their own day or month budget (GET /api/v1/budgets names them).',
      unit: 'short',
      queries: [{ expr: 'max by (tenant, period, ratio) (tollbooth_budget_keys_spent{ratio=~"0.8|1"})', legend: '{{tenant}} {{period}} ≥ {{ratio}}' }],
    }),
    timeseries({
      title: 'Rate-limit store degraded',
      description: '1 while a gateway cannot use the shared store (Redis): limits are per instance or refused, per rateLimits.onStoreError.',
      unit: 'short',
      queries: [{ expr: 'max by (instance) (tollbooth_rate_limit_store_degraded)', legend: '{{instance}}' }],
      width: 8,
    }),
    timeseries(
      {
        title: 'Rate-limit store round trip',
        description: 'p99 of one store call (one Lua script) by operation.',
        unit: 's',
        queries: [{ expr: histogramQuantile(0.99, 'tollbooth_rate_limit_store_seconds', '', ['operation']), legend: '{{operation}} p99' }],
        width: 8,
      },
      { exemplars: true },
    ),
    timeseries({
      title: 'Rate-limit store errors',
      description: 'Store calls that failed or were not tried (disconnected), by operation and reason.',
      unit: 'reqps',
      queries: [{ expr: `sum by (operation, reason) (${rate('tollbooth_rate_limit_store_errors_total')})`, legend: '{{operation}} {{reason}}' }],
      width: 8,
    }),
  ]);
}

function gateway(): DashboardBuilder {
  const perInstance = (title: string, description: string, unit: Unit, queries: readonly Query[]) => timeseries({ title, description, unit, queries, width: 8 });
  return dashboard('tollbooth-gateway', 'Tollbooth / Gateway', "The gateway process itself: its own latency, CPU, memory, event loop, GC and errors.", [
    timeseries(
      {
        title: 'Gateway overhead',
        description: "The gateway's own time per request (arrival to dispatch, plus receive-to-write of each chunk): p50, p95, p99 by instance.",
        unit: 's',
        queries: QUANTILES.map((quantile) => ({
          expr: histogramQuantile(quantile.value, 'tollbooth_overhead_seconds', '', ['instance']),
          legend: `{{instance}} ${quantile.name}`,
        })),
      },
      { exemplars: true },
    ),
    new HeatmapPanelBuilder()
      .title('Gateway overhead distribution')
      .description('Requests per overhead bucket (fine buckets from 10 µs).')
      .datasource(DATASOURCE)
      .unit('s')
      .span(12)
      .height(8)
      .calculate(false)
      .withTarget(
        new DataqueryBuilder()
          .refId('A')
          .datasource(DATASOURCE)
          .expr(`sum by (le) (${rate('tollbooth_overhead_seconds_bucket')})`)
          .legendFormat('{{le}}')
          .format(PromQueryFormat.Heatmap)
          .exemplar(true)
          .range(),
      ),
    stat({
      title: 'Gateway overhead p99 (5 m)',
      description: 'Recorded p99 per instance; above the threshold for long, TollboothHighGatewayOverhead fires.',
      unit: 's',
      queries: [{ expr: recordName.overheadP99, legend: '{{instance}}' }],
    }),
    perInstance('Process CPU', 'CPU seconds per second (1 = one core), user and system.', 'percentunit', [
      { expr: `sum by (instance) (${rate('tollbooth_process_cpu_seconds_total')})`, legend: '{{instance}}' },
    ]),
    perInstance('Memory', 'Resident set and V8 heap in use.', 'bytes', [
      { expr: 'max by (instance) (tollbooth_process_resident_memory_bytes)', legend: '{{instance}} resident' },
      { expr: 'sum by (instance) (tollbooth_nodejs_heap_size_used_bytes)', legend: '{{instance}} heap used' },
    ]),
    perInstance('Event-loop lag', "prom-client's event-loop delay percentiles: a starved or blocked loop delays every stream.", 's', [
      { expr: 'max by (instance) (tollbooth_nodejs_eventloop_lag_p50_seconds)', legend: '{{instance}} p50' },
      { expr: 'max by (instance) (tollbooth_nodejs_eventloop_lag_p99_seconds)', legend: '{{instance}} p99' },
    ]),
    perInstance('Garbage collection', 'Share of time spent in GC, by kind (major, minor, incremental, weakcb).', 'percentunit', [
      { expr: `sum by (instance, kind) (${rate('tollbooth_nodejs_gc_duration_seconds_sum')})`, legend: '{{instance}} {{kind}}' },
    ]),
    perInstance('Internal errors', 'Errors caught outside a request, by stage; the process kept serving. Any increase is a bug worth reporting.', 'short', [
      { expr: `sum by (stage) (${increase('tollbooth_internal_errors_total')})`, legend: '{{stage}}' },
    ]),
    perInstance('Failed requests by error type', 'Gateway error codes, upstream_http_<status>, upstream_in_band, client_disconnected.', 'reqps', [
      { expr: `sum by (type) (${rate('tollbooth_errors_total')})`, legend: '{{type}}' },
    ]),
  ]);
}

/** Every dashboard: file name (under DASHBOARDS_DIR) → the dashboard model. */
export function dashboards(config: MonitoringConfig): Map<string, Dashboard> {
  return new Map([
    ['tollbooth-overview.json', overview(config).build()],
    ['tollbooth-fleet.json', fleet().build()],
    ['tollbooth-tenants.json', tenantsAndCost(config).build()],
    ['tollbooth-gateway.json', gateway().build()],
  ]);
}
