import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Replica } from '../../routing/replica.js';
import { KEY_BUDGET_RATIOS, type BudgetGaugeRow } from '../../ratelimit/budget-report.js';
import { INTERNAL_ERROR_STAGES } from '../../errors/internal-errors.js';
import { OVERLOAD_LEVELS, type OverloadLevel } from '../../overload/config.js';
import type { GpuDeviceInput } from '../../routing/dcgm.js';
import type { Alert } from '../stats/snapshot.js';
import { FixedCounter } from './fixed-counter.js';
import { FixedHistogram } from './fixed-histogram.js';

/**
 * Every Prometheus instrument Tollbooth exports, in one place, in base units (seconds, tokens).
 * Buckets are vLLM's own (vllm/v1/metrics/loggers.py), so a gateway histogram and the engine's
 * line up bucket for bucket; the overhead histogram has its own fine buckets, since the gateway
 * adds tens of microseconds, not seconds. Labels are bounded: model (unknown names collapse to
 * "unknown"), replica, route, status class, stream, outcome — never keys, sessions or prompts.
 * Histograms and the per-request counters are `FixedHistogram`s and `FixedCounter`s (no label
 * hashing per observation; see fixed-histogram.ts, fixed-counter.ts), rendered exactly as
 * prom-client renders its own; counters filled at scrape time stay prom-client's. The request-latency histograms (TTFT, upstream
 * TTFT, TPOT, inter-chunk, end-to-end) carry exemplars naming traced requests (recorder.ts); they
 * appear only in the OpenMetrics exposition (exposition.ts).
 */
export const METRIC_PREFIX = 'tollbooth_';

export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
export const TOKEN_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
export const REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
export const OVERHEAD_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05];
/** vLLM's 1-2-5 series for token counts, up to a million tokens. */
export const TOKEN_COUNT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000];

/** DCGM reports memory in MiB. */
const MIB = 1024 * 1024;

export interface FleetView {
  /** The replicas as they are now, read at scrape time. */
  replicas(): readonly Replica[];
}

const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;

export interface AlertsView {
  /** The built-in alerts firing now (AlertEngine.firing()). */
  firing(): readonly Alert[];
}

export interface BudgetsView {
  /** The budgets' figures per tenant label and period at the last read of the store (none before it). */
  gauges(): readonly BudgetGaugeRow[];
}

export interface AnomaliesView {
  /** Every signal × scope the anomaly detectors track, and whether it has an active finding. */
  tracked(): ReadonlyArray<{ readonly signal: string; readonly scope: { readonly name: string }; readonly active: boolean }>;
}

export interface OverloadView {
  /** Each served model's overload level (OverloadController.levels()). */
  levels(): ReadonlyArray<{ readonly model: string; readonly level: OverloadLevel }>;
}

/** Spans the trace exporter's batch processor finished since start (cumulative), while tracing is on. */
export interface TraceExportTotals {
  readonly exported: number;
  readonly failed: number;
  readonly dropped: number;
}

const TRACE_EXPORT_OUTCOMES = ['exported', 'failed', 'dropped'] as const;

/** What the instruments read at scrape time from the parts that exist only with some settings. */
export interface InstrumentViews {
  /** The firing built-in alerts (tollbooth_alerts_firing). */
  readonly alerts?: AlertsView | undefined;
  /** The anomaly detectors (tollbooth_anomaly_active). */
  readonly anomalies?: AnomaliesView | undefined;
  /** The budgets' latest figures (tollbooth_budget_*). */
  readonly budgets?: BudgetsView | undefined;
  /** The trace exporter's span counts (tollbooth_trace_export_spans_total), while tracing is on. */
  readonly traceExport?: (() => TraceExportTotals | undefined) | undefined;
  /** Overload control's level per model (tollbooth_overload_level), while it is on. */
  readonly overload?: OverloadView | undefined;
}

export function createInstruments(registry: Registry, fleet: FleetView, version: string, views: InstrumentViews = {}) {
  const { alerts, anomalies, budgets, traceExport, overload } = views;
  const registers = [registry];
  const modelReplica = ['model', 'replica'] as const;
  const instruments = {
    requests: new FixedCounter({
      name: `${METRIC_PREFIX}requests_total`,
      help: 'Requests completed, by model, replica, route, HTTP status class, stream, outcome and tenant (declared tenants; other for the rest, none without a key).',
      labelNames: ['model', 'replica', 'route', 'status_class', 'stream', 'outcome', 'tenant'] as const,
      registers,
    }),
    timeToFirstToken: new FixedHistogram({
      name: `${METRIC_PREFIX}time_to_first_token_seconds`,
      help: 'Arrival at the gateway to the first content-bearing chunk written to the client (successful streams).',
      labelNames: modelReplica,
      buckets: TTFT_BUCKETS,
      registers,
    }),
    upstreamTimeToFirstToken: new FixedHistogram({
      name: `${METRIC_PREFIX}upstream_time_to_first_token_seconds`,
      help: 'Dispatch to the replica to the first content-bearing chunk received from it (successful streams).',
      labelNames: modelReplica,
      buckets: TTFT_BUCKETS,
      registers,
    }),
    timePerOutputToken: new FixedHistogram({
      name: `${METRIC_PREFIX}time_per_output_token_seconds`,
      help: 'Per request: (last content written - first content written) / (completion_tokens - 1), tokens from usage.',
      labelNames: modelReplica,
      buckets: TOKEN_LATENCY_BUCKETS,
      registers,
    }),
    interChunkLatency: new FixedHistogram({
      name: `${METRIC_PREFIX}inter_chunk_latency_seconds`,
      help: 'Gap between consecutive content-bearing stream events as they arrived (a chunk may carry several tokens).',
      labelNames: modelReplica,
      buckets: TOKEN_LATENCY_BUCKETS,
      registers,
    }),
    endToEndLatency: new FixedHistogram({
      name: `${METRIC_PREFIX}e2e_request_latency_seconds`,
      help: 'Arrival at the gateway to the end of the response, whatever the outcome.',
      labelNames: ['model', 'replica', 'stream'] as const,
      buckets: REQUEST_LATENCY_BUCKETS,
      registers,
    }),
    overhead: new FixedHistogram({
      name: `${METRIC_PREFIX}overhead_seconds`,
      help: "The gateway's own time: arrival to dispatch, plus the delay between receiving each chunk and writing it.",
      labelNames: ['stream'] as const,
      buckets: OVERHEAD_BUCKETS,
      registers,
    }),
    promptTokens: new FixedHistogram({
      name: `${METRIC_PREFIX}request_prompt_tokens`,
      help: 'Prompt tokens per request (exact counts only).',
      labelNames: ['model'] as const,
      buckets: TOKEN_COUNT_BUCKETS,
      registers,
    }),
    completionTokens: new FixedHistogram({
      name: `${METRIC_PREFIX}request_completion_tokens`,
      help: 'Completion tokens per request (exact counts only).',
      labelNames: ['model'] as const,
      buckets: TOKEN_COUNT_BUCKETS,
      registers,
    }),
    tokens: new FixedCounter({
      name: `${METRIC_PREFIX}tokens_total`,
      help: 'Tokens by kind (input, cached_input, output), source (exact from usage, or estimated when usage never came) and tenant.',
      labelNames: ['model', 'replica', 'kind', 'source', 'tenant'] as const,
      registers,
    }),
    cost: new FixedCounter({
      name: `${METRIC_PREFIX}cost_micros_total`,
      help: 'Cost in millionths of the currency unit (integer increments of an exact running total), by model and tenant.',
      labelNames: ['model', 'currency', 'basis', 'tenant'] as const,
      registers,
    }),
    errors: new FixedCounter({
      name: `${METRIC_PREFIX}errors_total`,
      help: 'Failed requests by error type: a gateway error code, upstream_http_<status>, upstream_in_band or client_disconnected.',
      labelNames: ['type'] as const,
      registers,
    }),
    routingDecisions: new FixedCounter({
      name: `${METRIC_PREFIX}routing_decisions_total`,
      help: 'First-replica choices by outcome: affinity (the session key\'s replica), overflow (it was over its load bound), no_key, least_loaded, round_robin.',
      labelNames: ['model', 'outcome'] as const,
      registers,
    }),
    failovers: new FixedCounter({
      name: `${METRIC_PREFIX}failovers_total`,
      help: 'Requests retried on another replica because one failed before answering (connect refused, reset).',
      labelNames: ['model'] as const,
      registers,
    }),
    rateLimitDecisions: new FixedCounter({
      name: `${METRIC_PREFIX}rate_limit_decisions_total`,
      help: 'Rate-limit decisions by tenant, outcome (admitted, limited, unavailable) and the limit that refused (requests, tokens, concurrency, budget; none when admitted).',
      labelNames: ['tenant', 'outcome', 'limit'] as const,
      registers,
    }),
    rateLimitReservedTokens: new FixedCounter({
      name: `${METRIC_PREFIX}rate_limit_reserved_tokens_total`,
      help: 'Tokens requests asked to reserve (prompt estimate + max_tokens) by tenant and outcome; admitted reservations are later reconciled with usage.',
      labelNames: ['tenant', 'outcome'] as const,
      registers,
    }),
    rateLimitStoreLatency: new FixedHistogram({
      name: `${METRIC_PREFIX}rate_limit_store_seconds`,
      help: 'Round trip of one shared rate-limit store call (Redis: one Lua script), by operation (admit, settle).',
      labelNames: ['operation'] as const,
      buckets: OVERHEAD_BUCKETS,
      registers,
    }),
    rateLimitStoreErrors: new FixedCounter({
      name: `${METRIC_PREFIX}rate_limit_store_errors_total`,
      help: 'Rate-limit store calls that failed (error) or were not tried because the store was disconnected, by operation.',
      labelNames: ['operation', 'reason'] as const,
      registers,
    }),
    rateLimitStoreDegraded: new Gauge({
      name: `${METRIC_PREFIX}rate_limit_store_degraded`,
      help: '1 while the shared rate-limit store is unusable (limits enforced per instance, or refused, per rateLimits.onStoreError), else 0.',
      registers,
    }),
    guardrailActions: new FixedCounter({
      name: `${METRIC_PREFIX}guardrail_actions_total`,
      help: 'What the guardrails did, by rule (max_prompt_tokens, a deny pattern\'s name, pii) and action (rejected, flagged, masked).',
      labelNames: ['rule', 'action'] as const,
      registers,
    }),
    overloadDecisions: new FixedCounter({
      name: `${METRIC_PREFIX}overload_decisions_total`,
      help: 'Overload control decisions (src/overload/) by model, priority class (critical, standard, batch) and action (admitted, clamped: max_tokens lowered, shed: 503 overloaded).',
      labelNames: ['model', 'class', 'action'] as const,
      registers,
    }),
    overloadQueueWait: new FixedHistogram({
      name: `${METRIC_PREFIX}overload_queue_wait_seconds`,
      help: 'Time requests waited in the overload gateway queue, by model, class and how it ended (admitted, clamped: released; shed: the queue was full or the deadline passed).',
      labelNames: ['model', 'class', 'action'] as const,
      buckets: TTFT_BUCKETS,
      registers,
    }),
    clientDisconnects: new FixedCounter({
      name: `${METRIC_PREFIX}client_disconnects_total`,
      help: 'Requests whose client closed the connection before the response was complete.',
      labelNames: ['model', 'stream'] as const,
      registers,
    }),
    internalErrors: new FixedCounter({
      name: `${METRIC_PREFIX}internal_errors_total`,
      help: 'Errors caught in work scheduled outside a request (telemetry after the response, timers, reloads), by stage; the process kept serving. Any increase is a bug to report.',
      labelNames: ['stage'] as const,
      registers,
    }),
  };
  // Every stage shows from the start, so an alert on increase() sees the first error.
  for (const stage of INTERNAL_ERROR_STAGES) instruments.internalErrors.inc({ stage }, 0);
  /** A gauge with one series per replica, read from the replicas at scrape time (undefined: no series). */
  const replicaGauge = (name: string, help: string, value: (replica: Replica) => number | undefined): void => {
    new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['replica'] as const,
      registers,
      collect() {
        this.reset();
        for (const replica of fleet.replicas()) {
          const current = value(replica);
          if (current !== undefined) this.set({ replica: replica.name }, current);
        }
      },
    });
  };
  replicaGauge('replica_in_flight_requests', 'Requests dispatched to the replica and not finished yet.', (replica) => replica.inFlight);
  replicaGauge('replica_healthy', '1 when the replica answered its last health probe, else 0.', (replica) => (replica.health === 'healthy' ? 1 : 0));
  replicaGauge('replica_engine_waiting_requests', "The engine's queue (vllm:num_requests_waiting) at its last scrape; absent when stale.", (replica) => replica.engineStats?.waiting);
  replicaGauge('replica_engine_running_requests', 'Requests the engine is running (vllm:num_requests_running); absent when stale.', (replica) => replica.engineStats?.running);
  replicaGauge('replica_engine_kv_cache_usage_ratio', 'KV-cache usage of the engine, 0-1 (vllm:kv_cache_usage_perc); absent when stale.', (replica) => replica.engineStats?.kvCacheUsage);
  replicaGauge(
    'replica_engine_prefix_cache_hit_ratio',
    "Share of prompt tokens the engine's prefix cache served over the latest interval between two scrapes that had prompts; absent before any and when stale.",
    (replica) => replica.prefixCacheHitRatio,
  );
  /** A gauge with one series per GPU of each replica (DCGM figures from gpuMetricsUrl; absent when stale). */
  const gpuGauge = (name: string, help: string, value: (gpu: GpuDeviceInput) => number | undefined): void => {
    new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['replica', 'gpu'] as const,
      registers,
      collect() {
        this.reset();
        for (const replica of fleet.replicas()) {
          for (const gpu of replica.gpuStats?.gpus ?? []) {
            const current = value(gpu);
            if (current !== undefined && Number.isFinite(current)) this.set({ replica: replica.name, gpu: gpu.gpu }, current);
          }
        }
      },
    });
  };
  gpuGauge('replica_gpu_memory_used_bytes', 'GPU frame-buffer memory in use (DCGM_FI_DEV_FB_USED from the replica\'s gpuMetricsUrl); absent when stale.', (gpu) => gpu.usedMiB * MIB);
  gpuGauge('replica_gpu_memory_total_bytes', 'GPU frame-buffer memory, used + free (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE); absent when stale.', (gpu) => (gpu.usedMiB + gpu.freeMiB) * MIB);
  gpuGauge('replica_gpu_utilization_ratio', 'GPU compute utilisation, 0-1 (DCGM_FI_DEV_GPU_UTIL / 100); absent when stale or not reported.', (gpu) =>
    gpu.utilizationPercent === undefined ? undefined : gpu.utilizationPercent / 100,
  );
  new Gauge({
    name: `${METRIC_PREFIX}replica_circuit_state`,
    help: "1 for the replica's current circuit state (closed: taking traffic, open: ejected, half_open: on trial).",
    labelNames: ['replica', 'state'] as const,
    registers,
    collect() {
      this.reset();
      const now = performance.now();
      for (const replica of fleet.replicas()) {
        replica.circuit.retryInMs(now); // brings a timed-out ejection to half_open before reading
        for (const state of CIRCUIT_STATES) this.set({ replica: replica.name, state }, replica.circuit.state === state ? 1 : 0);
      }
    },
  });
  const ejectionsSeen = new WeakMap<Replica, number>();
  new Counter({
    name: `${METRIC_PREFIX}replica_ejections_total`,
    help: 'Times the replica was ejected by its circuit breaker (consecutive failed requests).',
    labelNames: ['replica'] as const,
    registers,
    collect() {
      for (const replica of fleet.replicas()) {
        const seen = ejectionsSeen.get(replica) ?? 0;
        const now = replica.circuit.ejections;
        if (now > seen) this.inc({ replica: replica.name }, now - seen);
        else this.inc({ replica: replica.name }, 0);
        ejectionsSeen.set(replica, now);
      }
    },
  });
  const traceExportSeen: Record<(typeof TRACE_EXPORT_OUTCOMES)[number], number> = { exported: 0, failed: 0, dropped: 0 };
  new Counter({
    name: `${METRIC_PREFIX}trace_export_spans_total`,
    help: 'Spans the OTLP trace export finished while tracing is on, by outcome: exported, failed (the collector refused or did not answer) or dropped (the export queue, OTEL_BSP_MAX_QUEUE_SIZE, was full). No series with tracing off.',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      const totals = traceExport?.();
      if (totals === undefined) return;
      for (const outcome of TRACE_EXPORT_OUTCOMES) {
        this.inc({ outcome }, Math.max(0, totals[outcome] - traceExportSeen[outcome]));
        traceExportSeen[outcome] = Math.max(traceExportSeen[outcome], totals[outcome]);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}replica_model_info`,
    help: 'Always 1, one series per model a replica serves (configured, or from its /v1/models): joins the per-replica series to their models.',
    labelNames: ['replica', 'model'] as const,
    registers,
    collect() {
      this.reset();
      for (const replica of fleet.replicas()) for (const model of replica.models) this.set({ replica: replica.name, model }, 1);
    },
  });
  // The process's own CPU, memory, event-loop lag and GC, on this registry (one per app instance).
  // Lag sampled every 100 ms, not prom-client's 10: that timer woke the process 100 times a second
  // besides the work (an idle gateway went from 200 to 33 epoll wakeups per second), a cost every
  // stream paid at low concurrency. A stall still delays the next sample; short ones are caught less often.
  collectDefaultMetrics({ prefix: METRIC_PREFIX, register: registry, eventLoopMonitoringPrecision: 100 });
  // prom-client names three gauges `..._total`, which `promtool check metrics` rejects (only
  // counters end in _total); the same figures stay in the per-type gauges without the suffix.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
  }
  new Gauge({
    name: `${METRIC_PREFIX}alerts_firing`,
    help:
      'Firing built-in alerts (src/alerts/) by rule (alertname), severity, scope (fleet, model, replica, tenant, key) and the model or replica (empty otherwise): 1 per alert, except that the tenant and key alerts of a rule are counted in one series (metrics never name keys).',
    labelNames: ['alertname', 'severity', 'scope', 'model', 'replica'] as const,
    registers,
    collect() {
      this.reset();
      for (const alert of alerts?.firing() ?? []) {
        this.inc({ alertname: alert.name, severity: alert.severity, scope: alert.scope ?? 'fleet', model: alert.model ?? '', replica: alert.replica ?? '' });
      }
    },
  });
  /** A gauge over the budgets' rows (tenant label and period), read at scrape time; undefined: no series. */
  const budgetGauge = (name: string, help: string, labelNames: readonly string[], set: (gauge: Gauge, row: BudgetGaugeRow) => void): void => {
    new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['tenant', 'period', ...labelNames],
      registers,
      collect() {
        this.reset();
        for (const row of budgets?.gauges() ?? []) set(this, row);
      },
    });
  };
  const budgetsNote = 'Read from the rate-limit store (with Redis: the shared counters, the same on every instance) every rateLimits.budgetReport.refreshIntervalMs.';
  budgetGauge('budget_spent_ratio', `Share of the budget spent in the current UTC day or month, per tenant (declared tenants; other for the rest): its budgeted keys' spend over the sum of their caps. ${budgetsNote}`, [], (gauge, row) =>
    gauge.set({ tenant: row.tenant, period: row.period }, row.spentRatio),
  );
  budgetGauge(
    'budget_exhaustion_forecast_seconds',
    `Seconds until the tenant's budget (the sum of its keys' caps) is spent at the spend rate over rateLimits.budgetReport.rateWindowMs; 0 once spent; absent when the period ends first or nothing is being spent. ${budgetsNote}`,
    [],
    (gauge, row) => {
      if (row.exhaustsInSeconds !== undefined) gauge.set({ tenant: row.tenant, period: row.period }, row.exhaustsInSeconds);
    },
  );
  budgetGauge('budget_keys', `Keys with a budget for the period, per tenant. ${budgetsNote}`, [], (gauge, row) => gauge.set({ tenant: row.tenant, period: row.period }, row.keys));
  budgetGauge('budget_keys_spent', `Keys that have spent at least \`ratio\` (${KEY_BUDGET_RATIOS.join(', ')}) of their own budget for the period, per tenant. ${budgetsNote}`, ['ratio'], (gauge, row) =>
    KEY_BUDGET_RATIOS.forEach((ratio, index) => gauge.set({ tenant: row.tenant, period: row.period, ratio: String(ratio) }, row.keysAtOrAbove[index] ?? 0)),
  );
  budgetGauge(
    'budget_keys_forecast_exhausted',
    `Keys whose own budget is spent before the period ends at their current spend rate (spent ones included), per tenant. ${budgetsNote}`,
    [],
    (gauge, row) => gauge.set({ tenant: row.tenant, period: row.period }, row.keysForecastExhausted),
  );
  if (anomalies !== undefined) {
    new Gauge({
      name: `${METRIC_PREFIX}anomaly_active`,
      help: '1 while the anomaly detectors (src/analytics/anomaly/) have an active finding on the signal of the model or replica named by scope, else 0; GET /api/v1/anomalies has the details.',
      labelNames: ['signal', 'scope'] as const,
      registers,
      collect() {
        this.reset();
        // A model and a replica of the same name share a series: active when either is.
        const values = new Map<string, { signal: string; scope: string; active: boolean }>();
        for (const { signal, scope, active } of anomalies.tracked()) {
          const key = `${signal}\u0000${scope.name}`;
          values.set(key, { signal, scope: scope.name, active: active || values.get(key)?.active === true });
        }
        for (const { signal, scope, active } of values.values()) this.set({ signal, scope }, active ? 1 : 0);
      },
    });
  }
  if (overload !== undefined) {
    new Gauge({
      name: `${METRIC_PREFIX}overload_level`,
      help: "Each served model's overload level (src/overload/): 0 normal, 1 pressure (lower classes' max_tokens clamped), 2 overload (lower classes shed).",
      labelNames: ['model'] as const,
      registers,
      collect() {
        this.reset();
        for (const { model, level } of overload.levels()) this.set({ model }, OVERLOAD_LEVELS.indexOf(level));
      },
    });
  }
  new Gauge({
    name: `${METRIC_PREFIX}build_info`,
    help: 'Always 1; the version label names the running build.',
    labelNames: ['version'] as const,
    registers,
  }).set({ version }, 1);
  return instruments;
}

export type Instruments = ReturnType<typeof createInstruments>;
