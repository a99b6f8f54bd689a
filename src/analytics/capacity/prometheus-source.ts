import { DEFAULT_MONITORING_CONFIG } from '../../monitoring/config.js';
import { MODEL_TRAFFIC, recordingRuleGroups, recordName } from '../../monitoring/rules.js';
import { prometheusApi, type PrometheusApi } from '../prometheus-api.js';
import type { ModelCapacityInput } from './capacity-report.js';
import type { CapacityConfig } from './config.js';

/**
 * The planner's inputs from a Prometheus that scrapes Tollbooth, over its HTTP API: the request
 * rate history (the recording rule `model:tollbooth_requests:rate5m`, or its expression where the
 * rules are not loaded) for the forecast, and today's figures over a window from the gateway's own
 * series: λ from tollbooth_requests_total, the latency's mean from the e2e histogram's sum and
 * count and its variance from the histogram's buckets (vLLM's buckets: coarse, so cs² is rough),
 * the mean TTFT likewise, the replicas from `model:tollbooth_replicas_available:sum`. ca² cannot be
 * told from rates and is taken as 1 (Poisson); the concurrency comes from the config.
 */
export interface PrometheusRange {
  readonly config: Pick<CapacityConfig, 'models' | 'defaultConcurrencyPerReplica'>;
  readonly rangeSeconds: number;
  readonly stepSeconds: number;
  readonly windowSeconds: number;
  /** Unix seconds of the last point. */
  readonly endSeconds: number;
}

type Labels = Record<string, string>;
interface VectorSample {
  readonly metric: Labels;
  readonly value: [number, string];
}
interface MatrixSeries {
  readonly metric: Labels;
  readonly values: ReadonlyArray<[number, string]>;
}

const TRAFFIC = MODEL_TRAFFIC;
/** Per request to Prometheus, as tollbooth report's default --timeout: a hung server ends in an error, not a hang. */
const PROMETHEUS_TIMEOUT_MS = 30_000;

export async function prometheusCapacityInputs(baseUrl: string, range: PrometheusRange): Promise<Map<string, ModelCapacityInput>> {
  const api = prometheusApi({ baseUrl, timeoutMs: PROMETHEUS_TIMEOUT_MS });
  const window = `${Math.round(range.windowSeconds)}s`;
  const at = String(range.endSeconds);
  const instant = async (query: string): Promise<VectorSample[]> => api<VectorSample[]>('query', { query, time: at }, 'vector');
  const byModel = (samples: readonly VectorSample[]): Map<string, number> => {
    const out = new Map<string, number>();
    for (const sample of samples) {
      const value = Number(sample.value[1]);
      if (sample.metric.model !== undefined && Number.isFinite(value)) out.set(sample.metric.model, value);
    }
    return out;
  };
  const meanOf = (histogram: string) =>
    `sum by (model) (rate(${histogram}_sum{${TRAFFIC}}[${window}])) / sum by (model) (rate(${histogram}_count{${TRAFFIC}}[${window}]))`;

  const [rates, counts, latencyMeans, latencyBuckets, ttftMeans, replicas, history] = await Promise.all([
    instant(`sum by (model) (rate(tollbooth_requests_total{${TRAFFIC}}[${window}]))`).then(byModel),
    instant(`sum by (model) (increase(tollbooth_requests_total{${TRAFFIC}}[${window}]))`).then(byModel),
    instant(meanOf('tollbooth_e2e_request_latency_seconds')).then(byModel),
    instant(`sum by (model, le) (rate(tollbooth_e2e_request_latency_seconds_bucket{${TRAFFIC}}[${window}]))`),
    instant(meanOf('tollbooth_time_to_first_token_seconds')).then(byModel),
    instant(recordName.modelReplicasAvailable).then(async (samples) =>
      samples.length > 0 ? byModel(samples) : byModel(await instant('count by (model) (max by (model, replica) (tollbooth_replica_model_info))')),
    ),
    requestRateHistory(api, range),
  ]);

  const inputs = new Map<string, ModelCapacityInput>();
  for (const [model, arrivalRate] of rates) {
    const latencyMean = latencyMeans.get(model);
    if (latencyMean === undefined || !(latencyMean > 0)) continue;
    const configured = range.config.models[model]?.maxNumSeqs;
    inputs.set(model, {
      requests: Math.round(counts.get(model) ?? 0),
      spanSeconds: range.windowSeconds,
      traffic: {
        arrivalRate,
        arrivalScv: undefined,
        latencyMean,
        latencyVariance: bucketVariance(latencyBuckets.filter((sample) => sample.metric.model === model), latencyMean),
        ttftMean: ttftMeans.get(model),
        replicas: Math.max(1, Math.round(replicas.get(model) ?? 1)),
        concurrencyPerReplica: configured ?? range.config.defaultConcurrencyPerReplica,
      },
      concurrencySource: configured === undefined ? 'default' : 'config',
      history: history.get(model),
    });
  }
  return inputs;
}

/**
 * Per model, the request rate at every step of the range, from the first step that has a value;
 * a step without one (a scrape gap) repeats the one before, so the series stays evenly spaced.
 */
async function requestRateHistory(api: PrometheusApi, range: PrometheusRange): Promise<Map<string, { stepSeconds: number; rates: number[] }>> {
  const parameters = {
    start: String(range.endSeconds - range.rangeSeconds),
    end: String(range.endSeconds),
    step: String(range.stepSeconds),
  };
  let series = await api<MatrixSeries[]>('query_range', { ...parameters, query: recordName.requestRate }, 'matrix');
  if (series.length === 0) series = await api<MatrixSeries[]>('query_range', { ...parameters, query: requestRateExpression() }, 'matrix');
  const out = new Map<string, { stepSeconds: number; rates: number[] }>();
  const start = range.endSeconds - range.rangeSeconds;
  for (const one of series) {
    const model = one.metric.model;
    if (model === undefined || one.values.length === 0) continue;
    const byStep = new Map<number, number>();
    for (const [time, value] of one.values) byStep.set(Math.round((time - start) / range.stepSeconds), Number(value));
    const first = Math.min(...byStep.keys());
    const last = Math.max(...byStep.keys());
    const rates: number[] = [];
    for (let step = first; step <= last; step++) rates.push(byStep.get(step) ?? rates.at(-1) ?? 0);
    out.set(model, { stepSeconds: range.stepSeconds, rates });
  }
  return out;
}

/** The recording rule's own expression (one place for the query), for a Prometheus without the rules. */
function requestRateExpression(): string {
  for (const group of recordingRuleGroups(DEFAULT_MONITORING_CONFIG)) {
    for (const rule of group.rules) if (rule.record === recordName.requestRate) return rule.expr;
  }
  throw new Error(`no recording rule ${recordName.requestRate}`);
}

/**
 * The variance of a Prometheus histogram from its cumulative buckets (rates by `le`), each
 * bucket's share at its midpoint (the +Inf bucket at the last finite bound), about the exact mean.
 */
export function bucketVariance(buckets: readonly VectorSample[], mean: number): number {
  const points = buckets
    .map((sample) => ({ le: Number(sample.metric.le), cumulative: Number(sample.value[1]) }))
    .filter((point) => !Number.isNaN(point.le) && Number.isFinite(point.cumulative))
    .sort((a, b) => a.le - b.le);
  let previousBound = 0;
  let previousCumulative = 0;
  let total = 0;
  let squares = 0;
  for (const point of points) {
    const inBucket = Math.max(0, point.cumulative - previousCumulative);
    const middle = Number.isFinite(point.le) ? (previousBound + point.le) / 2 : previousBound;
    squares += inBucket * (middle - mean) ** 2;
    total += inBucket;
    previousCumulative = point.cumulative;
    if (Number.isFinite(point.le)) previousBound = point.le;
  }
  return total > 0 ? squares / total : 0;
}

/** Prometheus durations as the CLI takes them: 90s, 15m, 6h, 7d, 2w. */
export function parseDurationSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(text.trim());
  if (match === null) throw new Error(`"${text}" is not a duration such as 90s, 15m, 6h, 7d or 2w`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  const seconds = Number(match[1]) * unit;
  if (!(seconds > 0)) throw new Error(`"${text}" must be longer than 0`);
  return seconds;
}

