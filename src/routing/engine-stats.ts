import { MetricNameFilter, scanPrometheusText } from './prometheus-text.js';

/**
 * What a replica's vLLM engine says about its load, read from its GET /metrics page.
 *
 * Metric names (checked against vllm-project/vllm `vllm/v1/metrics/loggers.py` and our simulator,
 * `src/sim/metrics.ts`). Python's prometheus_client writes a Counter named `x` as the sample
 * `x_total`; the bare names are accepted too.
 *
 * | field              | current vLLM (V1, ≥ 0.9)            | older vLLM                                          |
 * |--------------------|-------------------------------------|-----------------------------------------------------|
 * | waiting            | `vllm:num_requests_waiting`         | same                                                |
 * | running            | `vllm:num_requests_running`         | same                                                |
 * | kvCacheUsage       | `vllm:kv_cache_usage_perc`          | `vllm:gpu_cache_usage_perc` (deprecated in 0.9)     |
 * | prefixCacheQueries | `vllm:prefix_cache_queries_total`   | `vllm:gpu_prefix_cache_queries_total` (V1 ≤ 0.9)    |
 * | prefixCacheHits    | `vllm:prefix_cache_hits_total`      | `vllm:gpu_prefix_cache_hits_total`                  |
 *
 * Aggregation over label sets (several served models or data-parallel engines, `engine="0"`, `"1"`…
 * on one replica): counts are summed, the KV-cache usage is the maximum (the fullest engine is the
 * one a new request may land on). For each field the first name in the list above that has a finite
 * sample wins, so a vLLM 0.9/0.10 page that shows both the new and the deprecated name is not counted
 * twice. The prefix-cache pair is taken from one generation of names, so hits and queries match.
 * Non-finite samples (NaN, ±Inf) are ignored.
 */
export interface EngineStats {
  /** vllm:num_requests_waiting (sum over engines/models of this replica). */
  readonly waiting: number;
  /** vllm:num_requests_running (sum). */
  readonly running: number;
  /** vllm:kv_cache_usage_perc, 0–1 (older vLLM: vllm:gpu_cache_usage_perc); max over engines, clamped to 0–1. */
  readonly kvCacheUsage: number | undefined;
  /** vllm:prefix_cache_queries_total (older: vllm:gpu_prefix_cache_queries_total), in tokens; sum. */
  readonly prefixCacheQueries: number | undefined;
  /** vllm:prefix_cache_hits_total (older: vllm:gpu_prefix_cache_hits_total), in tokens; sum. */
  readonly prefixCacheHits: number | undefined;
  /** The caller's monotonic clock (ms) when the page was read. */
  readonly scrapedAt: number;
}

/** The stats and what was wrong with the page, for a log line. */
export interface EngineStatsScrape {
  readonly stats: EngineStats;
  /** Lines of the page that were not valid exposition format (wanted or not is unknown for some). */
  readonly malformedLines: number;
  readonly firstMalformedLine: number | undefined;
}

export const ENGINE_METRIC_NAMES = {
  waiting: ['vllm:num_requests_waiting'],
  running: ['vllm:num_requests_running'],
  kvCacheUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
  /** [queries, hits] pairs, preferred first. */
  prefixCache: [
    ['vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total'],
    ['vllm:prefix_cache_queries', 'vllm:prefix_cache_hits'],
    ['vllm:gpu_prefix_cache_queries_total', 'vllm:gpu_prefix_cache_hits_total'],
    ['vllm:gpu_prefix_cache_queries', 'vllm:gpu_prefix_cache_hits'],
  ],
} as const;

/** Thrown when a page has neither vllm:num_requests_waiting nor vllm:num_requests_running. */
export class NotAVllmMetricsPageError extends Error {
  constructor(readonly malformedLines: number) {
    super(
      `the /metrics page has neither vllm:num_requests_waiting nor vllm:num_requests_running` +
        (malformedLines > 0 ? ` (${malformedLines} malformed lines)` : ''),
    );
    this.name = 'NotAVllmMetricsPageError';
  }
}

const WANTED = new MetricNameFilter([
  ...ENGINE_METRIC_NAMES.waiting,
  ...ENGINE_METRIC_NAMES.running,
  ...ENGINE_METRIC_NAMES.kvCacheUsage,
  ...ENGINE_METRIC_NAMES.prefixCache.flat(),
]);

/** Per sample name: the sum and the maximum of its finite samples. */
interface Aggregate {
  sum: number;
  max: number;
}

/** Reads the engine stats from a vLLM /metrics page; throws {@link NotAVllmMetricsPageError} if it is not one. */
export function parseEngineStats(text: string, scrapedAt: number): EngineStats {
  return scrapeEngineStats(text, scrapedAt).stats;
}

/** {@link parseEngineStats} plus the count of malformed lines. */
export function scrapeEngineStats(text: string, scrapedAt: number): EngineStatsScrape {
  const byName = new Map<string, Aggregate>();
  const scan = scanPrometheusText(
    text,
    (sample) => {
      if (!Number.isFinite(sample.value)) return;
      const aggregate = byName.get(sample.name);
      if (aggregate === undefined) byName.set(sample.name, { sum: sample.value, max: sample.value });
      else {
        aggregate.sum += sample.value;
        if (sample.value > aggregate.max) aggregate.max = sample.value;
      }
    },
    WANTED,
  );

  const waiting = first(byName, ENGINE_METRIC_NAMES.waiting);
  const running = first(byName, ENGINE_METRIC_NAMES.running);
  if (waiting === undefined && running === undefined) throw new NotAVllmMetricsPageError(scan.malformed);

  const kv = first(byName, ENGINE_METRIC_NAMES.kvCacheUsage);
  let prefixCacheQueries: number | undefined;
  let prefixCacheHits: number | undefined;
  for (const [queriesName, hitsName] of ENGINE_METRIC_NAMES.prefixCache) {
    const queries = byName.get(queriesName);
    const hits = byName.get(hitsName);
    if (queries === undefined && hits === undefined) continue;
    prefixCacheQueries = queries?.sum;
    prefixCacheHits = hits?.sum;
    break;
  }

  return {
    stats: {
      waiting: waiting?.sum ?? 0,
      running: running?.sum ?? 0,
      kvCacheUsage: kv === undefined ? undefined : Math.min(1, Math.max(0, kv.max)),
      prefixCacheQueries,
      prefixCacheHits,
      scrapedAt,
    },
    malformedLines: scan.malformed,
    firstMalformedLine: scan.firstMalformedLine,
  };
}

/**
 * Whether `stats` exist and were scraped at most `maxAgeMs` before `now` (same monotonic clock).
 * A scrape stamped after `now` (a caller mixing clocks) counts as fresh.
 * Caution: being a type predicate, it narrows the *false* branch to `undefined`, although stale stats
 * exist there; to use stale stats, test `stats !== undefined` separately.
 */
export function isFresh(stats: EngineStats | undefined, now: number, maxAgeMs: number): stats is EngineStats {
  return stats !== undefined && now - stats.scrapedAt <= maxAgeMs;
}

function first(byName: ReadonlyMap<string, Aggregate>, names: readonly string[]): Aggregate | undefined {
  for (const name of names) {
    const aggregate = byName.get(name);
    if (aggregate !== undefined) return aggregate;
  }
  return undefined;
}
