import type { Aggregate } from './aggregate.js';
import type { AggregateSet } from './aggregate-set.js';
import { costPerThousandTokens, formatNanos } from '../../cost/cost.js';
import { LATENCY_BUCKET_LABELS, type LatencyBucketLabel } from './latency-buckets.js';

/**
 * The JSON of GET /api/v1/metrics (snake_case, the reference service's field names). Every number
 * is finite: a value that has no meaning yet (a rate over a zero span, a percentile of no
 * samples) is null. Times are milliseconds, rounded to 0.001; rates and percentages to 0.001.
 */
export interface MetricsApiResponse {
  readonly status: 'ok';
  readonly generated_at: string;
  readonly uptime_seconds: number;
  readonly window_seconds: number;
  readonly num_waiting_requests: number;
  readonly num_running_requests: number;
  /** Highest number of requests in flight at once since start (the window's is in `window`). */
  readonly peak_concurrent_requests: number;
  readonly window: ScopeStatistics;
  readonly since_start: ScopeStatistics;
  /** What each replica's engine reports (e.g. KV-cache use), as passed in; {} when not given. */
  readonly replica_engine: Record<string, Record<string, number | null>>;
}

export interface ScopeStatistics {
  /** The time the scope covers: the window's slots (at most window_seconds) or the uptime. */
  readonly span_seconds: number;
  readonly peak_concurrent_requests: number;
  readonly overall: Statistics;
  /** Every model seen since start, in both scopes (zero counts when idle in the window). */
  readonly by_model: Record<string, Statistics>;
  /** Every replica seen since start; requests that never reached a replica are not here. */
  readonly by_replica: Record<string, Statistics>;
}

export interface Statistics {
  readonly requests: {
    readonly total_requests: number;
    readonly successful_requests: number;
    readonly failed_requests: number;
    readonly success_rate_percent: number | null;
    readonly error_rate_percent: number | null;
    readonly requests_per_second: number | null;
  };
  readonly slo: {
    readonly ttft_mean: number | null;
    readonly ttft_p50: number | null;
    readonly ttft_p95: number | null;
    readonly ttft_p99: number | null;
    readonly decoding_throughput_mean: number | null;
    readonly decoding_throughput_p50: number | null;
    /** Output tokens per second over the span. */
    readonly total_throughput: number | null;
  };
  readonly latency: {
    readonly latency_mean: number | null;
    readonly latency_p50: number | null;
    readonly latency_p95: number | null;
    readonly latency_p99: number | null;
    readonly latency_min: number | null;
    readonly latency_max: number | null;
    readonly histogram: Record<LatencyBucketLabel, number>;
  };
  readonly tokens: {
    readonly total_input_tokens: number;
    readonly total_cached_input_tokens: number;
    readonly total_output_tokens: number;
    /** (input + output tokens) / requests. */
    readonly avg_tokens_per_request: number | null;
    readonly estimated_requests: number;
  };
  readonly cost: {
    readonly currency: string;
    /** Exact decimal string in currency units, from the integer nanos ("0.0123"). */
    readonly total: string;
    /** The same amount as an integer string of nano-units (1e-9), for exact arithmetic. */
    readonly total_nanos: string;
    /** Cost per 1,000 input + output tokens, decimal string rounded to a nano; null without tokens. */
    readonly cost_per_1k_tokens: string | null;
  };
  readonly errors: {
    readonly total: number;
    readonly by_type: Record<string, number>;
  };
}

export function scopeStatistics(set: AggregateSet, spanMs: number, peakConcurrency: number, currency: string): ScopeStatistics {
  const section = (aggregate: Aggregate): Statistics => statistics(aggregate, spanMs, currency);
  return {
    span_seconds: rounded(Math.max(0, spanMs) / 1000) ?? 0,
    peak_concurrent_requests: peakConcurrency,
    overall: section(set.overall),
    by_model: sortedRecord(set.byModel, section),
    by_replica: sortedRecord(set.byReplica, section),
  };
}

export function statistics(aggregate: Aggregate, spanMs: number, currency: string): Statistics {
  const spanSeconds = spanMs > 0 ? spanMs / 1000 : null;
  const perSecond = (count: number): number | null => (spanSeconds === null ? null : rounded(count / spanSeconds));
  const percentOfTotal = (count: number): number | null => (aggregate.total === 0 ? null : rounded((100 * count) / aggregate.total));
  const totalTokens = aggregate.inputTokens + aggregate.outputTokens;
  return {
    requests: {
      total_requests: aggregate.total,
      successful_requests: aggregate.successful,
      failed_requests: aggregate.failed,
      success_rate_percent: percentOfTotal(aggregate.successful),
      error_rate_percent: percentOfTotal(aggregate.failed),
      requests_per_second: perSecond(aggregate.total),
    },
    slo: {
      ttft_mean: rounded(aggregate.ttft.mean()),
      ttft_p50: rounded(aggregate.ttft.percentile(0.5)),
      ttft_p95: rounded(aggregate.ttft.percentile(0.95)),
      ttft_p99: rounded(aggregate.ttft.percentile(0.99)),
      decoding_throughput_mean: rounded(aggregate.decode.mean()),
      decoding_throughput_p50: rounded(aggregate.decode.percentile(0.5)),
      total_throughput: perSecond(aggregate.outputTokens),
    },
    latency: {
      latency_mean: rounded(aggregate.latency.mean()),
      latency_p50: rounded(aggregate.latency.percentile(0.5)),
      latency_p95: rounded(aggregate.latency.percentile(0.95)),
      latency_p99: rounded(aggregate.latency.percentile(0.99)),
      latency_min: aggregate.latency.count === 0 ? null : rounded(aggregate.latency.min),
      latency_max: aggregate.latency.count === 0 ? null : rounded(aggregate.latency.max),
      histogram: Object.fromEntries(
        LATENCY_BUCKET_LABELS.map((label, i) => [label, aggregate.latencyBuckets[i]!]),
      ) as Record<LatencyBucketLabel, number>,
    },
    tokens: {
      total_input_tokens: aggregate.inputTokens,
      total_cached_input_tokens: aggregate.cachedInputTokens,
      total_output_tokens: aggregate.outputTokens,
      avg_tokens_per_request: aggregate.total === 0 ? null : rounded(totalTokens / aggregate.total),
      estimated_requests: aggregate.estimated,
    },
    cost: {
      currency,
      total: formatNanos(aggregate.costNanos),
      total_nanos: aggregate.costNanos.toString(),
      cost_per_1k_tokens: costPerThousandTokens(aggregate.costNanos, totalTokens),
    },
    errors: {
      total: aggregate.failed,
      by_type: sortedRecord(aggregate.errorsByType, (count) => count),
    },
  };
}

/** The engine figures as given, with anything not finite turned into null. */
export function engineRecord(
  replicaEngine: ReadonlyMap<string, Record<string, number>> | undefined,
): Record<string, Record<string, number | null>> {
  if (replicaEngine === undefined) return {};
  return sortedRecord(replicaEngine, (values) =>
    Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Number.isFinite(value) ? value : null])),
  );
}

/** Rounds to 0.001; null for null and for anything not finite. */
export function rounded(value: number | null): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  return Math.round(value * 1000) / 1000;
}

/** Object.fromEntries defines own properties, so a name like "__proto__" stays a plain key. */
function sortedRecord<V, R>(map: ReadonlyMap<string, V>, convert: (value: V) => R): Record<string, R> {
  return Object.fromEntries([...map.keys()].sort().map((name) => [name, convert(map.get(name)!)]));
}
