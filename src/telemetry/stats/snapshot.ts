import type { Aggregate, TenantUsage } from './aggregate.js';
import type { AggregateSet } from './aggregate-set.js';
import { costPerThousandTokens, formatNanos } from '../../cost/cost.js';
import { LATENCY_BUCKET_LABELS, type LatencyBucketLabel } from './latency-buckets.js';
import type { OverloadModelReport } from '../../overload/controller.js';
import type { GpuDeviceInput } from '../../routing/dcgm.js';

/**
 * The JSON of GET /api/v1/metrics: the reference service's shape (REFERENCES.md, "The JSON contract
 * existing monitoring scripts rely on") at the top level, for the sliding window, and what Tollbooth
 * adds under keys of its own (`cost`, `routing`, `by_model`, `by_replica`, `by_tenant`, `replicas`,
 * `since_start`).
 *
 * Units: times in seconds (to the microsecond), throughputs in tokens/s, rates in percent (0–100),
 * memory in GB of 2^30 bytes; other numbers rounded to 0.001.
 *
 * Numbers are always numbers. A figure over nothing (a percentile of no samples, a rate of no
 * requests) is `0`, and the `count` (or `requests.total`) beside it says that it is empty: a script
 * that formats every field with float() works on an idle gateway. Only `gpu.name` may be null (no
 * GPU source). The function that builds it ({@link buildMetricsSnapshot}) is pure.
 */
export interface MetricsApiResponse {
  /**
   * ok | warning | critical: the worst severity among the firing `alerts` (the built-in alerts,
   * src/alerts/); info alerts leave it ok.
   */
  readonly status: AlertSeverityStatus;
  readonly generated_at: string;
  readonly uptime_seconds: number;
  /** The configured window (metrics.windowMs) the top-level figures cover, at most. */
  readonly window_seconds: number;
  /** The time the window's figures actually cover (shorter than window_seconds just after start). */
  readonly span_seconds: number;
  readonly requests: LiveRequestFigures;
  readonly slo: SloFigures;
  readonly latency: LatencyFigures;
  readonly tokens: TokenFigures;
  readonly errors: ErrorFigures;
  readonly gpu: FleetGpuFigures;
  /** Firing built-in alerts, each with name, severity, message, since (ISO time) and scope labels. */
  readonly alerts: readonly Alert[];
  readonly alerts_count: number;
  /** Tollbooth's own: the window's cost. */
  readonly cost: CostFigures;
  /** Tollbooth's own: the window's routing decisions and session affinity. */
  readonly routing: RoutingFigures;
  /** Tollbooth's own: the window per model (every model seen since start; zero counts when idle). */
  readonly by_model: Record<string, Statistics>;
  /** Tollbooth's own: the window per replica (every replica seen since start). */
  readonly by_replica: Record<string, Statistics>;
  /** Tollbooth's own: the window's usage and cost per tenant label (every tenant seen since start). */
  readonly by_tenant: Record<string, TenantFigures>;
  /** Tollbooth's own: each configured replica now: health, in flight, engine and GPU figures. */
  readonly replicas: Record<string, ReplicaNow>;
  /** Tollbooth's own: the same statistics since the gateway started. */
  readonly since_start: ScopeStatistics;
  /** Tollbooth's own, only when overload control is on: each served model's level, signals and decisions. */
  readonly overload?: OverloadFigures;
}

/** Overload control's state (src/overload/controller.ts builds it), by model. */
export type OverloadFigures = Record<string, OverloadModelReport>;

export type AlertSeverityStatus = 'ok' | 'warning' | 'critical';

export interface Alert {
  readonly name: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly message: string;
  /** ISO time the alert started firing. */
  readonly since: string;
  /** The built-in alerts' scope labels: fleet, or the model, replica, tenant or key the alert is about. */
  readonly scope?: 'fleet' | 'model' | 'replica' | 'tenant' | 'key';
  readonly model?: string;
  readonly replica?: string;
  readonly tenant?: string;
  readonly key?: string;
  /** The rule's figure (a path in this JSON), its value at the last evaluation, and the threshold. */
  readonly figure?: string;
  readonly value?: number;
  readonly threshold?: number;
}

export interface RequestFigures {
  readonly total: number;
  readonly successful: number;
  readonly failed: number;
  /** 0 when `total` is 0. */
  readonly success_rate_percent: number;
  readonly error_rate_percent: number;
  readonly requests_per_second: number;
}

export interface LiveRequestFigures extends RequestFigures {
  /** The fleet's engine queue: the sum of the replicas' vllm:num_requests_waiting at their last scrape. */
  readonly waiting: number;
  /** Requests in flight through the gateway now (dispatched to a replica, response not finished). */
  readonly running: number;
  /** Most requests in flight at the gateway at once within the window. */
  readonly peak_concurrent: number;
}

export interface SloFigures {
  /** Time to first token of successful streams, seconds. */
  readonly ttft: { readonly mean: number; readonly p50: number; readonly p95: number; readonly p99: number; readonly count: number };
  readonly throughput: {
    /** Per request decode speed, (output tokens − 1) / decode time, tokens/s. */
    readonly decoding_mean: number;
    readonly decoding_p50: number;
    /** Output tokens per second over the span. */
    readonly total: number;
    /** Requests the decode figures are from. */
    readonly count: number;
  };
  /**
   * Time per output token of the same requests, seconds: the inverse of each request's decode
   * speed ((t_last − t_first) / (output tokens − 1)), so TPOT's p95 is the decode speed's p5.
   */
  readonly tpot: { readonly p50: number; readonly p95: number; readonly p99: number; readonly count: number };
}

export interface LatencyFigures {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
  /** Requests per end-to-end latency bucket (0–100 ms … > 10 s). */
  readonly histogram: Record<LatencyBucketLabel, number>;
}

export interface TokenFigures {
  readonly total_input: number;
  readonly total_cached_input: number;
  readonly total_output: number;
  /** (input + output) / requests; 0 without requests. */
  readonly avg_per_request: number;
  /** Requests whose tokens were estimated (no usage came back). */
  readonly estimated_requests: number;
}

export interface CostFigures {
  readonly currency: string;
  /** Exact decimal string in currency units, from the integer nanos ("0.0123"). */
  readonly total: string;
  /** The same amount as an integer string of nano-units (1e-9), for exact arithmetic. */
  readonly total_nanos: string;
  /** Cost per 1,000 input + output tokens, decimal string rounded to a nano; null without tokens. */
  readonly cost_per_1k_tokens: string | null;
}

/**
 * How the router chose each request's first replica. `affinity`: the session key's own replica;
 * `overflow`: it was over its load bound, so another one; `no_key`, `least_loaded`, `round_robin`.
 */
export interface RoutingFigures {
  readonly decisions: Record<string, number>;
  /** Requests with a session key: affinity + overflow. */
  readonly session_requests: number;
  /** affinity / (affinity + overflow) × 100; 0 when `session_requests` is 0. */
  readonly affinity_ratio_percent: number;
}

/** One tenant label's requests, tokens and cost. */
export interface TenantFigures {
  readonly requests: number;
  readonly failed: number;
  readonly tokens: { readonly total_input: number; readonly total_cached_input: number; readonly total_output: number };
  readonly cost: CostFigures;
}

export interface ErrorFigures {
  readonly total: number;
  readonly by_type: Record<string, number>;
}

export interface Statistics {
  readonly requests: RequestFigures;
  readonly slo: SloFigures;
  readonly latency: LatencyFigures;
  readonly tokens: TokenFigures;
  readonly cost: CostFigures;
  readonly routing: RoutingFigures;
  readonly errors: ErrorFigures;
}

export interface ScopeStatistics {
  /** The time the scope covers: the window's slots (at most window_seconds) or the uptime. */
  readonly span_seconds: number;
  readonly peak_concurrent_requests: number;
  readonly overall: Statistics;
  readonly by_model: Record<string, Statistics>;
  /** Requests that never reached a replica are not here. */
  readonly by_replica: Record<string, Statistics>;
  readonly by_tenant: Record<string, TenantFigures>;
}

/** GPU memory as the reference defines it, plus the DCGM compute utilisation. */
export interface GpuFigures {
  /** dcgm: from the replicas' gpuMetricsUrl; none: no replica has fresh GPU figures (numbers are 0). */
  readonly source: 'dcgm' | 'none';
  /** The GPU model (DCGM modelName); several models joined with ", "; null without a source. */
  readonly name: string | null;
  readonly gpu_count: number;
  /** Frame-buffer memory in use (DCGM_FI_DEV_FB_USED), GB of 2^30 bytes. */
  readonly allocated_gb: number;
  /** Used + free (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE), GB. */
  readonly total_gb: number;
  readonly free_gb: number;
  /** GPU **memory** in use, allocated / total × 100 (the reference's figure; its target is < 90). */
  readonly utilization_percent: number;
  /** Compute utilisation, the mean of DCGM_FI_DEV_GPU_UTIL over the GPUs, percent. */
  readonly compute_utilization_percent: number;
}

export interface FleetGpuFigures extends GpuFigures {
  /** Replicas with fresh GPU figures. */
  readonly replicas_reporting: number;
}

export interface ReplicaNow {
  readonly health: string;
  /** Requests dispatched to the replica and not finished. */
  readonly in_flight: number;
  /** The engine's own figures from its GET /metrics; `available: false` (and zeros) before the first scrape or once stale. */
  readonly engine: {
    readonly available: boolean;
    readonly waiting: number;
    readonly running: number;
    /** vllm:kv_cache_usage_perc × 100. */
    readonly kv_cache_usage_percent: number;
    /** Prompt tokens served from the prefix cache between the last two scrapes, percent (0 when unknown). */
    readonly prefix_cache_hit_rate_percent: number;
    /** The engine's counters (tokens) since it started. */
    readonly prefix_cache_queries: number;
    readonly prefix_cache_hits: number;
  };
  readonly gpu: GpuFigures;
}

// ---------------------------------------------------------------------------------------------
// Inputs: plain figures, so the snapshot is built and tested without a server or a fleet.

export interface EngineFiguresInput {
  readonly waiting: number;
  readonly running: number;
  readonly kvCacheUsage: number | undefined;
  readonly prefixCacheQueries: number | undefined;
  readonly prefixCacheHits: number | undefined;
  readonly prefixCacheHitRatio: number | undefined;
}

export interface ReplicaFiguresInput {
  readonly name: string;
  readonly health: string;
  readonly inFlight: number;
  /** undefined: not scraped yet, or stale. */
  readonly engine: EngineFiguresInput | undefined;
  /** undefined: no gpuMetricsUrl, not scraped yet, or stale. */
  readonly gpus: readonly GpuDeviceInput[] | undefined;
}

export interface ScopeInput {
  readonly set: AggregateSet;
  readonly spanMs: number;
  readonly peakConcurrency: number;
}

export interface SnapshotInput {
  readonly nowMs: number;
  readonly startedAtMs: number;
  readonly windowMs: number;
  readonly currency: string;
  readonly window: ScopeInput;
  readonly sinceStart: ScopeInput;
  readonly replicas: readonly ReplicaFiguresInput[];
  /** Firing alerts (the built-in alerts' AlertEngine.firing()). */
  readonly alerts?: readonly Alert[];
}

const MIB_PER_GB = 1024;

/** The whole JSON from plain inputs: no clock, no I/O. */
export function buildMetricsSnapshot(input: SnapshotInput): MetricsApiResponse {
  const window = scopeStatistics(input.window.set, input.window.spanMs, input.window.peakConcurrency, input.currency);
  const overall = window.overall;
  const alerts = input.alerts ?? [];
  let waiting = 0;
  let running = 0;
  const replicas: Record<string, ReplicaNow> = {};
  for (const replica of [...input.replicas].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    waiting += finite(replica.engine?.waiting);
    running += finite(replica.inFlight);
    Object.defineProperty(replicas, replica.name, { value: replicaNow(replica), enumerable: true, writable: true, configurable: true });
  }
  const reporting = input.replicas.filter((replica) => replica.gpus !== undefined && replica.gpus.length > 0);
  return {
    status: statusOf(alerts),
    generated_at: new Date(input.nowMs).toISOString(),
    uptime_seconds: round(Math.max(0, input.nowMs - input.startedAtMs) / 1000),
    window_seconds: input.windowMs / 1000,
    span_seconds: window.span_seconds,
    requests: {
      waiting,
      running,
      peak_concurrent: input.window.peakConcurrency,
      ...overall.requests,
    },
    slo: overall.slo,
    latency: overall.latency,
    tokens: overall.tokens,
    errors: overall.errors,
    gpu: { ...gpuFigures(reporting.flatMap((replica) => replica.gpus!)), replicas_reporting: reporting.length },
    alerts,
    alerts_count: alerts.length,
    cost: overall.cost,
    routing: overall.routing,
    by_model: window.by_model,
    by_replica: window.by_replica,
    by_tenant: window.by_tenant,
    replicas,
    since_start: scopeStatistics(input.sinceStart.set, input.sinceStart.spanMs, input.sinceStart.peakConcurrency, input.currency),
  };
}

function statusOf(alerts: readonly Alert[]): AlertSeverityStatus {
  if (alerts.some((alert) => alert.severity === 'critical')) return 'critical';
  return alerts.some((alert) => alert.severity === 'warning') ? 'warning' : 'ok';
}

function replicaNow(replica: ReplicaFiguresInput): ReplicaNow {
  const engine = replica.engine;
  return {
    health: replica.health,
    in_flight: finite(replica.inFlight),
    engine: {
      available: engine !== undefined,
      waiting: finite(engine?.waiting),
      running: finite(engine?.running),
      kv_cache_usage_percent: round(100 * finite(engine?.kvCacheUsage)),
      prefix_cache_hit_rate_percent: round(100 * finite(engine?.prefixCacheHitRatio)),
      prefix_cache_queries: finite(engine?.prefixCacheQueries),
      prefix_cache_hits: finite(engine?.prefixCacheHits),
    },
    gpu: gpuFigures(replica.gpus ?? []),
  };
}

/** Sums the memory of the GPUs, averages their compute utilisation; source none when there are none. */
export function gpuFigures(gpus: readonly GpuDeviceInput[]): GpuFigures {
  if (gpus.length === 0) {
    return { source: 'none', name: null, gpu_count: 0, allocated_gb: 0, total_gb: 0, free_gb: 0, utilization_percent: 0, compute_utilization_percent: 0 };
  }
  let usedMiB = 0;
  let freeMiB = 0;
  let utilizationSum = 0;
  let utilizationCount = 0;
  const names = new Set<string>();
  for (const gpu of gpus) {
    usedMiB += finite(gpu.usedMiB);
    freeMiB += finite(gpu.freeMiB);
    if (gpu.utilizationPercent !== undefined && Number.isFinite(gpu.utilizationPercent)) {
      utilizationSum += gpu.utilizationPercent;
      utilizationCount += 1;
    }
    if (gpu.name !== undefined && gpu.name !== '') names.add(gpu.name);
  }
  const totalMiB = usedMiB + freeMiB;
  return {
    source: 'dcgm',
    name: names.size === 0 ? null : [...names].sort().join(', '),
    gpu_count: gpus.length,
    allocated_gb: round(usedMiB / MIB_PER_GB),
    total_gb: round(totalMiB / MIB_PER_GB),
    free_gb: round(freeMiB / MIB_PER_GB),
    utilization_percent: totalMiB > 0 ? round((100 * usedMiB) / totalMiB) : 0,
    compute_utilization_percent: utilizationCount > 0 ? round(utilizationSum / utilizationCount) : 0,
  };
}

export function scopeStatistics(set: AggregateSet, spanMs: number, peakConcurrency: number, currency: string): ScopeStatistics {
  const section = (aggregate: Aggregate): Statistics => statistics(aggregate, spanMs, currency);
  return {
    span_seconds: round(Math.max(0, spanMs) / 1000),
    peak_concurrent_requests: peakConcurrency,
    overall: section(set.overall),
    by_model: sortedRecord(set.byModel, section),
    by_replica: sortedRecord(set.byReplica, section),
    by_tenant: sortedRecord(set.byTenant, (usage) => tenantFigures(usage, currency)),
  };
}

function tenantFigures(usage: TenantUsage, currency: string): TenantFigures {
  return {
    requests: usage.total,
    failed: usage.failed,
    tokens: { total_input: usage.inputTokens, total_cached_input: usage.cachedInputTokens, total_output: usage.outputTokens },
    cost: costFigures(usage.costNanos, usage.inputTokens + usage.outputTokens, currency),
  };
}

function costFigures(nanos: bigint, tokens: number, currency: string): CostFigures {
  return { currency, total: formatNanos(nanos), total_nanos: nanos.toString(), cost_per_1k_tokens: costPerThousandTokens(nanos, tokens) };
}

/** The routing outcomes counted, and the share of keyed requests that stayed on their key's replica. */
export function routingFigures(outcomes: ReadonlyMap<string, number>): RoutingFigures {
  const affinity = outcomes.get('affinity') ?? 0;
  const sessionRequests = affinity + (outcomes.get('overflow') ?? 0);
  return {
    decisions: sortedRecord(outcomes, (count) => count),
    session_requests: sessionRequests,
    affinity_ratio_percent: sessionRequests === 0 ? 0 : round((100 * affinity) / sessionRequests),
  };
}

/**
 * The q-quantile of time per output token from the decode-speed histogram: TPOT is 1 / speed per
 * request, so the value of nearest rank ⌈q·n⌉ in TPOT order is rank n − ⌈q·n⌉ + 1 in speed order.
 */
function tpotQuantileMs(decode: Aggregate['decode'], q: number): number | null {
  const n = decode.count;
  if (n === 0) return null;
  const speedRank = n - Math.min(n, Math.max(1, Math.ceil(q * n))) + 1;
  // The middle of the rank's interval, so ⌈(rank − ½)/n · n⌉ lands on the rank despite rounding.
  const speed = decode.percentile((speedRank - 0.5) / n);
  return speed === null || !(speed > 0) ? null : 1000 / speed;
}

/** One aggregate in the reference's units: milliseconds become seconds; empty figures are 0. */
export function statistics(aggregate: Aggregate, spanMs: number, currency: string): Statistics {
  const spanSeconds = spanMs > 0 ? spanMs / 1000 : 0;
  const perSecond = (count: number): number => (spanSeconds === 0 ? 0 : round(count / spanSeconds));
  const percentOfTotal = (count: number): number => (aggregate.total === 0 ? 0 : round((100 * count) / aggregate.total));
  const totalTokens = aggregate.inputTokens + aggregate.outputTokens;
  // Milliseconds to seconds, kept to the microsecond.
  const seconds = (ms: number | null): number => (ms === null || !Number.isFinite(ms) ? 0 : Math.round(ms * 1000) / 1_000_000);
  const plain = (value: number | null): number => (value === null ? 0 : round(value));
  const { ttft, decode, latency } = aggregate;
  return {
    requests: {
      total: aggregate.total,
      successful: aggregate.successful,
      failed: aggregate.failed,
      success_rate_percent: percentOfTotal(aggregate.successful),
      error_rate_percent: percentOfTotal(aggregate.failed),
      requests_per_second: perSecond(aggregate.total),
    },
    slo: {
      ttft: {
        mean: seconds(ttft.mean()),
        p50: seconds(ttft.percentile(0.5)),
        p95: seconds(ttft.percentile(0.95)),
        p99: seconds(ttft.percentile(0.99)),
        count: ttft.count,
      },
      throughput: {
        decoding_mean: plain(decode.mean()),
        decoding_p50: plain(decode.percentile(0.5)),
        total: perSecond(aggregate.outputTokens),
        count: decode.count,
      },
      tpot: {
        p50: seconds(tpotQuantileMs(decode, 0.5)),
        p95: seconds(tpotQuantileMs(decode, 0.95)),
        p99: seconds(tpotQuantileMs(decode, 0.99)),
        count: decode.count,
      },
    },
    latency: {
      mean: seconds(latency.mean()),
      p50: seconds(latency.percentile(0.5)),
      p95: seconds(latency.percentile(0.95)),
      p99: seconds(latency.percentile(0.99)),
      min: latency.count === 0 ? 0 : seconds(latency.min),
      max: latency.count === 0 ? 0 : seconds(latency.max),
      count: latency.count,
      histogram: Object.fromEntries(
        LATENCY_BUCKET_LABELS.map((label, i) => [label, aggregate.latencyBuckets[i]!]),
      ) as Record<LatencyBucketLabel, number>,
    },
    tokens: {
      total_input: aggregate.inputTokens,
      total_cached_input: aggregate.cachedInputTokens,
      total_output: aggregate.outputTokens,
      avg_per_request: aggregate.total === 0 ? 0 : round(totalTokens / aggregate.total),
      estimated_requests: aggregate.estimated,
    },
    cost: costFigures(aggregate.costNanos, totalTokens, currency),
    routing: routingFigures(aggregate.routingOutcomes),
    errors: {
      total: aggregate.failed,
      by_type: sortedRecord(aggregate.errorsByType, (count) => count),
    },
  };
}

/** Rounds to 0.001; null for null and for anything not finite. */
export function rounded(value: number | null): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  return Math.round(value * 1000) / 1000;
}

/** Rounds to 0.001; 0 for anything not finite. */
function round(value: number): number {
  return rounded(value) ?? 0;
}

function finite(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) ? value : 0;
}

/** Object.fromEntries defines own properties, so a name like "__proto__" stays a plain key. */
function sortedRecord<V, R>(map: ReadonlyMap<string, V>, convert: (value: V) => R): Record<string, R> {
  return Object.fromEntries([...map.keys()].sort().map((name) => [name, convert(map.get(name)!)]));
}
