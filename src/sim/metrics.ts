import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** vLLM's bucket boundaries (see CONVENTIONS.md), so gateway and engine histograms line up. */
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
];
const INTER_TOKEN_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];

/** vLLM's token-count buckets: 1, 2, 5 times powers of ten up to max_model_len. */
function tokenBuckets(maxModelLen: number): number[] {
  const buckets: number[] = [];
  for (let exponent = 1; ; exponent *= 10) {
    for (const mantissa of [1, 2, 5]) {
      const value = mantissa * exponent;
      if (value > maxModelLen) return buckets;
      buckets.push(value);
    }
  }
}

const LABELS = ['model_name', 'engine'] as const;
const ENGINE = '0';

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/** Pre-resolved label children for one model, so the hot path does no label hashing. */
export interface ModelMetrics {
  promptTokens: CounterChild;
  generationTokens: CounterChild;
  prefixQueries: CounterChild;
  prefixHits: CounterChild;
  ttft: HistogramChild;
  interToken: HistogramChild;
  timePerOutputToken: HistogramChild;
  e2e: HistogramChild;
  queueTime: HistogramChild;
  requestPromptTokens: HistogramChild;
  requestGenerationTokens: HistogramChild;
  success(finishedReason: string): CounterChild;
}

/** Live engine state the gauges read at scrape time. */
export interface EngineGaugeSource {
  running(model: string): number;
  waiting(model: string): number;
  kvCacheUsage(): number;
}

/** One prom-client Registry per simulator instance, with vLLM's metric names and labels. */
export class SimMetrics {
  readonly registry = new Registry();
  private readonly byModel = new Map<string, ModelMetrics>();
  private readonly promptTokens: Counter<string>;
  private readonly generationTokens: Counter<string>;
  private readonly prefixQueries: Counter<string>;
  private readonly prefixHits: Counter<string>;
  private readonly success: Counter<string>;
  private readonly ttft: Histogram<string>;
  private readonly interToken: Histogram<string>;
  private readonly timePerOutputToken: Histogram<string>;
  private readonly e2e: Histogram<string>;
  private readonly queueTime: Histogram<string>;
  private readonly requestPromptTokens: Histogram<string>;
  private readonly requestGenerationTokens: Histogram<string>;

  constructor(
    private readonly models: readonly string[],
    maxModelLen: number,
    source: EngineGaugeSource,
  ) {
    const registers = [this.registry];
    const modelList = this.models;
    const gauge = (name: string, help: string, read: (model: string) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: LABELS,
        registers,
        collect() {
          for (const model of modelList) this.set({ model_name: model, engine: ENGINE }, read(model));
        },
      });
    };
    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', (m) => source.running(m));
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (m) => source.waiting(m));
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', () => source.kvCacheUsage());

    const counter = (name: string, help: string, extra: string[] = []): Counter<string> =>
      new Counter({ name, help, labelNames: [...LABELS, ...extra], registers });
    this.prefixQueries = counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.');
    this.prefixHits = counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.');
    this.promptTokens = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    this.generationTokens = counter('vllm:generation_tokens_total', 'Number of generation tokens processed.');
    this.success = counter('vllm:request_success_total', 'Count of successfully processed requests.', ['finished_reason']);

    const histogram = (name: string, help: string, buckets: number[]): Histogram<string> =>
      new Histogram({ name, help, labelNames: LABELS, buckets, registers });
    this.ttft = histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
    this.interToken = histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', INTER_TOKEN_BUCKETS);
    this.timePerOutputToken = histogram(
      'vllm:request_time_per_output_token_seconds',
      'Histogram of time_per_output_token_seconds per request.',
      INTER_TOKEN_BUCKETS,
    );
    this.e2e = histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_LATENCY_BUCKETS);
    this.queueTime = histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_LATENCY_BUCKETS);
    const tokenCountBuckets = tokenBuckets(maxModelLen);
    this.requestPromptTokens = histogram('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', tokenCountBuckets);
    this.requestGenerationTokens = histogram(
      'vllm:request_generation_tokens',
      'Number of generation tokens processed.',
      tokenCountBuckets,
    );
    // Expose zero-valued series for every served model from the start, like vLLM does.
    for (const model of models) this.forModel(model);
  }

  forModel(model: string): ModelMetrics {
    const cached = this.byModel.get(model);
    if (cached !== undefined) return cached;
    const labels = { model_name: model, engine: ENGINE };
    const successByReason = new Map<string, CounterChild>();
    const created: ModelMetrics = {
      promptTokens: this.promptTokens.labels(labels),
      generationTokens: this.generationTokens.labels(labels),
      prefixQueries: this.prefixQueries.labels(labels),
      prefixHits: this.prefixHits.labels(labels),
      ttft: this.ttft.labels(labels),
      interToken: this.interToken.labels(labels),
      timePerOutputToken: this.timePerOutputToken.labels(labels),
      e2e: this.e2e.labels(labels),
      queueTime: this.queueTime.labels(labels),
      requestPromptTokens: this.requestPromptTokens.labels(labels),
      requestGenerationTokens: this.requestGenerationTokens.labels(labels),
      success: (finishedReason) => {
        let child = successByReason.get(finishedReason);
        if (child === undefined) {
          child = this.success.labels({ ...labels, finished_reason: finishedReason });
          successByReason.set(finishedReason, child);
        }
        return child;
      },
    };
    this.byModel.set(model, created);
    return created;
  }
}
