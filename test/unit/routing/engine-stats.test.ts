import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isFresh,
  NotAVllmMetricsPageError,
  parseEngineStats,
  scrapeEngineStats,
  type EngineStats,
} from '../../../src/routing/engine-stats.js';
import { parsePrometheusText } from '../../../src/routing/prometheus-text.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';

/** Bucket lines of one histogram series, as prometheus_client writes them. */
function histogram(name: string, labels: string, buckets: number[], count: number, sum: number): string[] {
  return [
    ...buckets.map((le) => `${name}_bucket{${labels},le="${le.toFixed(1)}"} ${count}.0`),
    `${name}_bucket{${labels},le="+Inf"} ${count}.0`,
    `${name}_count{${labels}} ${count}.0`,
    `${name}_sum{${labels}} ${sum}`,
  ];
}

/**
 * Shaped like a vLLM 0.10 (V1 engine) /metrics page from prometheus_client: two served model names
 * (as two engines behind one api server would show), data-parallel engines "0" and "1", the
 * deprecated gpu_* names still shown next to the new ones, `_created` samples, process metrics,
 * an info gauge with many labels, and histograms with `le`.
 */
const TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const LLAMA0 = 'engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"';
const LLAMA1 = 'engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"';
const QWEN0 = 'engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"';
const VLLM_010_PAGE = [
  '# HELP python_gc_objects_collected_total Objects collected during gc',
  '# TYPE python_gc_objects_collected_total counter',
  'python_gc_objects_collected_total{generation="0"} 12345.0',
  'python_gc_objects_collected_total{generation="1"} 2345.0',
  '# HELP python_info Python platform information',
  '# TYPE python_info gauge',
  'python_info{implementation="CPython",major="3",minor="12",patchlevel="11",version="3.12.11"} 1.0',
  '# HELP process_resident_memory_bytes Resident memory size in bytes.',
  '# TYPE process_resident_memory_bytes gauge',
  'process_resident_memory_bytes 2.147483648e+09',
  '# HELP vllm:num_requests_running Number of requests in model execution batches.',
  '# TYPE vllm:num_requests_running gauge',
  `vllm:num_requests_running{${LLAMA0}} 7.0`,
  `vllm:num_requests_running{${LLAMA1}} 5.0`,
  `vllm:num_requests_running{${QWEN0}} 1.0`,
  '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
  '# TYPE vllm:num_requests_waiting gauge',
  `vllm:num_requests_waiting{${LLAMA0}} 3.0`,
  `vllm:num_requests_waiting{${LLAMA1}} 0.0`,
  `vllm:num_requests_waiting{${QWEN0}} 2.0`,
  '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.',
  '# TYPE vllm:gpu_cache_usage_perc gauge',
  `vllm:gpu_cache_usage_perc{${LLAMA0}} 0.99`,
  `vllm:gpu_cache_usage_perc{${LLAMA1}} 0.99`,
  `vllm:gpu_cache_usage_perc{${QWEN0}} 0.99`,
  '# HELP vllm:gpu_prefix_cache_queries_total GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: Use vllm:prefix_cache_queries instead.',
  '# TYPE vllm:gpu_prefix_cache_queries_total counter',
  `vllm:gpu_prefix_cache_queries_total{${LLAMA0}} 99999.0`,
  `vllm:gpu_prefix_cache_queries_created{${LLAMA0}} 1.7526e+09`,
  '# HELP vllm:gpu_prefix_cache_hits_total GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use vllm:prefix_cache_hits instead.',
  '# TYPE vllm:gpu_prefix_cache_hits_total counter',
  `vllm:gpu_prefix_cache_hits_total{${LLAMA0}} 88888.0`,
  '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
  '# TYPE vllm:kv_cache_usage_perc gauge',
  `vllm:kv_cache_usage_perc{${LLAMA0}} 0.4375`,
  `vllm:kv_cache_usage_perc{${LLAMA1}} 0.8125`,
  `vllm:kv_cache_usage_perc{${QWEN0}} 0.0625`,
  '# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.',
  '# TYPE vllm:prefix_cache_queries_total counter',
  `vllm:prefix_cache_queries_total{${LLAMA0}} 120000.0`,
  `vllm:prefix_cache_queries_total{${LLAMA1}} 80000.0`,
  `vllm:prefix_cache_queries_total{${QWEN0}} 1000.0`,
  '# HELP vllm:prefix_cache_queries_created Prefix cache queries, in terms of number of queried tokens.',
  '# TYPE vllm:prefix_cache_queries_created gauge',
  `vllm:prefix_cache_queries_created{${LLAMA0}} 1.7526e+09`,
  `vllm:prefix_cache_queries_created{${LLAMA1}} 1.7526e+09`,
  `vllm:prefix_cache_queries_created{${QWEN0}} 1.7526e+09`,
  '# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.',
  '# TYPE vllm:prefix_cache_hits_total counter',
  `vllm:prefix_cache_hits_total{${LLAMA0}} 60000.0`,
  `vllm:prefix_cache_hits_total{${LLAMA1}} 20000.0`,
  `vllm:prefix_cache_hits_total{${QWEN0}} 10.0`,
  '# HELP vllm:num_preemptions_total Cumulative number of preemption from the engine.',
  '# TYPE vllm:num_preemptions_total counter',
  `vllm:num_preemptions_total{${LLAMA0}} 4.0`,
  '# HELP vllm:request_success_total Count of successfully processed requests.',
  '# TYPE vllm:request_success_total counter',
  `vllm:request_success_total{${LLAMA0},finished_reason="stop"} 1500.0`,
  `vllm:request_success_total{${LLAMA0},finished_reason="length"} 12.0`,
  '# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.',
  '# TYPE vllm:time_to_first_token_seconds histogram',
  ...histogram('vllm:time_to_first_token_seconds', LLAMA0, TTFT, 1512, 301.25),
  ...histogram('vllm:time_to_first_token_seconds', LLAMA1, TTFT, 900, 180.5),
  ...histogram('vllm:time_to_first_token_seconds', QWEN0, TTFT, 40, 3.5),
  '# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig',
  '# TYPE vllm:cache_config_info gauge',
  'vllm:cache_config_info{block_size="16",cache_dtype="auto",calculate_kv_scales="False",cpu_offload_gb="0",enable_prefix_caching="True",engine="0",gpu_memory_utilization="0.9",is_attention_free="False",num_cpu_blocks="None",num_gpu_blocks="27932",num_gpu_blocks_override="None",prefix_caching_hash_algo="builtin",sliding_window="None",swap_space="4",swap_space_bytes="4294967296"} 1.0',
  '',
].join('\n');

/** vLLM 0.8 (V1): the gpu_* names only, engine label, no kv_cache_usage_perc. */
const VLLM_08_PAGE = [
  '# HELP vllm:num_requests_running Number of requests in model execution batches.',
  '# TYPE vllm:num_requests_running gauge',
  'vllm:num_requests_running{engine="0",model_name="m"} 2.0',
  '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
  '# TYPE vllm:num_requests_waiting gauge',
  'vllm:num_requests_waiting{engine="0",model_name="m"} 1.0',
  '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.',
  '# TYPE vllm:gpu_cache_usage_perc gauge',
  'vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.25',
  '# HELP vllm:gpu_prefix_cache_queries_total GPU prefix cache queries, in terms of number of queried blocks.',
  '# TYPE vllm:gpu_prefix_cache_queries_total counter',
  'vllm:gpu_prefix_cache_queries_total{engine="0",model_name="m"} 640.0',
  '# HELP vllm:gpu_prefix_cache_hits_total GPU prefix cache hits, in terms of number of cached blocks.',
  '# TYPE vllm:gpu_prefix_cache_hits_total counter',
  'vllm:gpu_prefix_cache_hits_total{engine="0",model_name="m"} 320.0',
].join('\r\n');

/** vLLM V0 engine: model_name only, gpu_cache_usage_perc, a hit-rate gauge and no query/hit counters. */
const VLLM_V0_PAGE = [
  '# TYPE vllm:num_requests_running gauge',
  'vllm:num_requests_running{model_name="m"} 0.0',
  '# TYPE vllm:num_requests_swapped gauge',
  'vllm:num_requests_swapped{model_name="m"} 0.0',
  '# TYPE vllm:num_requests_waiting gauge',
  'vllm:num_requests_waiting{model_name="m"} 9.0',
  '# TYPE vllm:gpu_cache_usage_perc gauge',
  'vllm:gpu_cache_usage_perc{model_name="m"} 1.0',
  '# TYPE vllm:gpu_prefix_cache_hit_rate gauge',
  'vllm:gpu_prefix_cache_hit_rate{model_name="m"} -1.0',
].join('\n');

describe('parseEngineStats on captured vLLM pages', () => {
  it('vLLM 0.10: sums counts over models and engines, takes the max KV usage, prefers the new names', () => {
    const stats = parseEngineStats(VLLM_010_PAGE, 1234);
    expect(stats).toEqual<EngineStats>({
      waiting: 5,
      running: 13,
      kvCacheUsage: 0.8125,
      prefixCacheQueries: 201_000,
      prefixCacheHits: 80_010,
      scrapedAt: 1234,
    });
    expect(scrapeEngineStats(VLLM_010_PAGE, 0).malformedLines).toBe(0);
  });

  it('vLLM 0.8: falls back to gpu_cache_usage_perc and the gpu_prefix_cache_* counters (CRLF page)', () => {
    expect(parseEngineStats(VLLM_08_PAGE, 5)).toEqual<EngineStats>({
      waiting: 1,
      running: 2,
      kvCacheUsage: 0.25,
      prefixCacheQueries: 640,
      prefixCacheHits: 320,
      scrapedAt: 5,
    });
  });

  it('V0 engine: no prefix counters gives undefined, not zero', () => {
    expect(parseEngineStats(VLLM_V0_PAGE, 0)).toEqual<EngineStats>({
      waiting: 9,
      running: 0,
      kvCacheUsage: 1,
      prefixCacheQueries: undefined,
      prefixCacheHits: undefined,
      scrapedAt: 0,
    });
  });

  it('accepts bare counter names (no _total) and keeps queries and hits from one generation of names', () => {
    const page = [
      'vllm:num_requests_running 1',
      'vllm:gpu_prefix_cache_queries 50',
      'vllm:gpu_prefix_cache_hits 40',
      'vllm:prefix_cache_queries 10',
    ].join('\n');
    const stats = parseEngineStats(page, 0);
    expect([stats.prefixCacheQueries, stats.prefixCacheHits]).toEqual([10, undefined]);
    expect(parseEngineStats('vllm:num_requests_running 1\nvllm:gpu_prefix_cache_queries 50\nvllm:gpu_prefix_cache_hits 40', 0)).toMatchObject({
      prefixCacheQueries: 50,
      prefixCacheHits: 40,
    });
  });

  it('a page with only one of waiting/running gives 0 for the other', () => {
    expect(parseEngineStats('vllm:num_requests_waiting{engine="0"} 4', 0)).toMatchObject({ waiting: 4, running: 0, kvCacheUsage: undefined });
    expect(parseEngineStats('vllm:num_requests_running 2', 0)).toMatchObject({ waiting: 0, running: 2 });
  });
});

describe('parseEngineStats on bad input', () => {
  it('throws NotAVllmMetricsPageError when neither waiting nor running is present', () => {
    for (const page of ['', '# HELP x y\n# TYPE x gauge\nx 1', '<html><body>Not Found</body></html>', '{"object":"error"}', 'vllm:num_requests_running_x 1']) {
      expect(() => parseEngineStats(page, 0)).toThrow(NotAVllmMetricsPageError);
    }
  });

  it('counts malformed lines and reads the good ones around them', () => {
    const page = [
      'vllm:num_requests_waiting{engine="0",model_name="m"} 2',
      'vllm:num_requests_waiting{engine="1",model_name="m"} two',
      'vllm:num_requests_running{engine="0",model_name="m" 3',
      'vllm:num_requests_running{engine="1",model_name="m"} 4',
      'vllm:kv_cache_usage_perc{engine="0"} 0.5 notatimestamp',
      'vllm:kv_cache_usage_perc{engine="1"} 0.3',
      '### garbage }{',
      '}{ garbage',
    ].join('\n');
    const scrape = scrapeEngineStats(page, 9);
    expect(scrape.stats).toMatchObject({ waiting: 2, running: 4, kvCacheUsage: 0.3 });
    expect(scrape.malformedLines).toBe(4);
    expect(scrape.firstMalformedLine).toBe(2);
  });

  it('a page whose wanted lines are all malformed throws and says how many were', () => {
    try {
      parseEngineStats('vllm:num_requests_waiting{ 1\nvllm:num_requests_running 1 2 3', 0);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(NotAVllmMetricsPageError);
      expect((error as NotAVllmMetricsPageError).malformedLines).toBe(2);
    }
  });

  it('ignores NaN and infinite samples, and clamps the KV usage to 0–1', () => {
    const page = [
      'vllm:num_requests_waiting{engine="0"} NaN',
      'vllm:num_requests_waiting{engine="1"} 3',
      'vllm:num_requests_running{engine="0"} +Inf',
      'vllm:kv_cache_usage_perc{engine="0"} 1.02',
      'vllm:prefix_cache_queries_total{engine="0"} -Inf',
    ].join('\n');
    expect(parseEngineStats(page, 0)).toMatchObject({ waiting: 3, running: 0, kvCacheUsage: 1, prefixCacheQueries: undefined });
    expect(parseEngineStats('vllm:num_requests_running 0\nvllm:kv_cache_usage_perc -0.1', 0).kvCacheUsage).toBe(0);
    expect(() => parseEngineStats('vllm:num_requests_running NaN\nvllm:num_requests_waiting NaN', 0)).toThrow(NotAVllmMetricsPageError);
  });
});

describe('isFresh', () => {
  const stats = parseEngineStats('vllm:num_requests_running 1', 1_000);

  it('is fresh up to and including maxAgeMs, stale after, false for no stats', () => {
    expect(isFresh(stats, 1_000, 500)).toBe(true);
    expect(isFresh(stats, 1_500, 500)).toBe(true);
    expect(isFresh(stats, 1_501, 500)).toBe(false);
    expect(isFresh(undefined, 1_000, 500)).toBe(false);
    expect(isFresh(stats, 900, 500)).toBe(true); // stamped after now: not stale
  });

  it('narrows the type', () => {
    const maybe: EngineStats | undefined = stats;
    if (isFresh(maybe, 1_000, 10)) expect(maybe.running).toBe(1);
    else expect.unreachable();
  });
});

describe('parseEngineStats on the simulator /metrics', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ models: ['sim-a', 'sim-b'], seed: 7, interTokenMs: 50, outputTokens: { min: 200, max: 200 } });
  });
  afterAll(async () => {
    await sim.close();
  });

  async function scrape(): Promise<{ text: string; stats: EngineStats }> {
    const response = await fetch(`${sim.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    return { text, stats: parseEngineStats(text, performance.now()) };
  }

  it('reads an idle simulator: zero gauges, no malformed line', async () => {
    const { text, stats } = await scrape();
    // The simulator's counters have no samples until the first increment (prom-client creates a
    // labelled series on first use; vLLM shows zeros from the start), so the prefix fields are
    // undefined here, which parseEngineStats must tolerate.
    expect(stats).toMatchObject({ waiting: 0, running: 0, kvCacheUsage: 0, prefixCacheQueries: undefined, prefixCacheHits: undefined });
    expect(scrapeEngineStats(text, 0).malformedLines).toBe(0);
    const all = parsePrometheusText(text);
    expect(all.malformed).toBe(0);
    expect(new Set(all.sampleList.filter((s) => s.name === 'vllm:num_requests_running').map((s) => s.labels['model_name']))).toEqual(
      new Set(['sim-a', 'sim-b']),
    );
  });

  it('sees a request running and the prefix-cache counters move, agreeing with the raw samples', async () => {
    const abort = new AbortController();
    const response = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-b', stream: true, messages: [{ role: 'user', content: 'tell me a long story '.repeat(20) }] }),
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await reader.read(); // the stream has started: the request is running
    try {
      const { text, stats } = await scrape();
      expect(stats.running).toBe(1);
      expect(stats.waiting).toBe(0);
      expect(stats.prefixCacheQueries).toBeGreaterThan(0);
      const raw = parsePrometheusText(text, { names: ['vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total'] }).sampleList;
      const sum = (name: string): number => raw.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);
      expect(stats.prefixCacheQueries).toBe(sum('vllm:prefix_cache_queries_total'));
      expect(stats.prefixCacheHits).toBe(sum('vllm:prefix_cache_hits_total'));
      // The whole page, parsed without a filter, is well-formed (HELP/TYPE, histograms with le).
      const all = parsePrometheusText(text);
      expect(all.malformed).toBe(0);
      expect(all.sampleList.some((s) => s.name === 'vllm:time_to_first_token_seconds_bucket' && s.labels['le'] === '+Inf')).toBe(true);
    } finally {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    }
  });
});
