import { fitSmoothing, forecastAt, stepsUntil } from './forecast.js';
import { estimateWorkload, type ObservedTraffic } from './service-estimate.js';
import { type CapacityTarget, maxArrivalRate, meetsTarget, predictReplicas, requiredReplicas } from './sizing.js';

/**
 * The JSON of GET /api/v1/capacity (and what `tollbooth capacity` prints): per model, what was
 * observed, the service time separated from the queueing, the queue model's figures at today's
 * load, the replicas a target needs, the headroom and the forecast. Pure: built from plain inputs.
 * Times in seconds, rates per second; a figure that does not exist (an unstable queue's wait, a
 * target no replica count meets, no breach within the horizon) is null.
 */
export interface CapacityReport {
  readonly generated_at: string;
  readonly source: 'gateway' | 'prometheus';
  readonly target: TargetJson;
  readonly models: Record<string, ModelCapacity>;
}

export interface TargetJson {
  readonly wait_probability: number | null;
  readonly mean_wait_seconds: number | null;
  readonly ttft_quantile: number | null;
  readonly ttft_seconds: number | null;
}

export type ConcurrencySource = 'config' | 'learned' | 'default';

export interface ModelCapacity {
  readonly observed: {
    readonly requests: number;
    readonly span_seconds: number;
    readonly arrival_rate: number;
    /** ca²; arrival_scv_assumed: true when taken as 1 (Poisson): too little history, or counts consistent with Poisson. */
    readonly arrival_scv: number;
    readonly arrival_scv_assumed: boolean;
    readonly latency_mean_seconds: number;
    readonly latency_scv: number;
    readonly ttft_mean_seconds: number | null;
    readonly replicas: number;
    readonly concurrency_per_replica: number;
    readonly concurrency_source: ConcurrencySource;
  };
  readonly estimated: {
    readonly service_time_seconds: number;
    readonly service_scv: number;
    readonly prefill_seconds: number;
  };
  readonly now: PredictionJson;
  readonly required_replicas: number | null;
  readonly at_required_replicas: PredictionJson | null;
  readonly headroom: {
    /** The arrival rate at which today's replicas stop meeting the target. */
    readonly max_arrival_rate: number;
    readonly extra_arrival_rate: number;
    /** max / observed − 1; null without traffic. */
    readonly extra_ratio: number | null;
  };
  readonly forecast: ForecastJson | null;
}

export interface PredictionJson {
  readonly replicas: number;
  readonly utilisation: number;
  readonly wait_probability: number;
  readonly mean_wait_seconds: number | null;
  readonly wait_quantile_seconds: number | null;
  readonly ttft_quantile_seconds: number | null;
  readonly quantile: number;
  readonly meets_target: boolean;
}

export interface ForecastJson {
  readonly method: 'holt' | 'holt-winters';
  readonly points: number;
  readonly step_seconds: number;
  /** Smoothed arrival rate at the last point, per second. */
  readonly level: number;
  /** Trend of the arrival rate, per second per hour. */
  readonly trend_per_hour: number;
  /** Forecast arrival rate one horizon ahead. */
  readonly at_horizon: number;
  readonly horizon_seconds: number;
  /** Seconds from the last point until the forecast reaches max_arrival_rate; null: not within the horizon. */
  readonly breach_in_seconds: number | null;
}

export interface RateHistory {
  readonly stepSeconds: number;
  /** Arrivals per second per step, oldest first. */
  readonly rates: readonly number[];
}

export interface ModelCapacityInput {
  readonly requests: number;
  readonly spanSeconds: number;
  readonly traffic: ObservedTraffic;
  readonly concurrencySource: ConcurrencySource;
  readonly history: RateHistory | undefined;
}

export interface CapacitySettings {
  readonly target: CapacityTarget;
  readonly forecastHorizonSeconds: number;
  /** Season length of the history in seconds (e.g. 86400); 0: none. */
  readonly seasonSeconds: number;
}

/** Fewer points than this and no forecast is made. */
export const MIN_FORECAST_POINTS = 6;

export function buildCapacityReport(
  source: CapacityReport['source'],
  nowMs: number,
  settings: CapacitySettings,
  models: ReadonlyMap<string, ModelCapacityInput>,
): CapacityReport {
  const out: Record<string, ModelCapacity> = {};
  for (const name of [...models.keys()].sort()) {
    const input = models.get(name)!;
    const capacity = modelCapacity(input, settings);
    if (capacity !== undefined) Object.defineProperty(out, name, { value: capacity, enumerable: true, writable: true, configurable: true });
  }
  return { generated_at: new Date(nowMs).toISOString(), source, target: targetJson(settings.target), models: out };
}

/** undefined when the model has no latency to learn from (no successful request in the window). */
export function modelCapacity(input: ModelCapacityInput, settings: CapacitySettings): ModelCapacity | undefined {
  const traffic = input.traffic;
  if (!(traffic.latencyMean > 0) || traffic.concurrencyPerReplica < 1) return undefined;
  const { workload } = estimateWorkload(traffic);
  const target = settings.target;
  const replicasNow = Math.max(1, traffic.replicas);
  const now = predictReplicas(workload, replicasNow, target);
  const required = requiredReplicas(workload, target);
  const maxRate = maxArrivalRate(workload, replicasNow, target);
  return {
    observed: {
      requests: input.requests,
      span_seconds: round(input.spanSeconds),
      arrival_rate: round(traffic.arrivalRate),
      arrival_scv: round(workload.arrivalScv),
      arrival_scv_assumed: traffic.arrivalScv === undefined,
      latency_mean_seconds: micro(traffic.latencyMean),
      latency_scv: round(traffic.latencyVariance / (traffic.latencyMean * traffic.latencyMean)),
      ttft_mean_seconds: traffic.ttftMean === undefined ? null : micro(traffic.ttftMean),
      replicas: traffic.replicas,
      concurrency_per_replica: traffic.concurrencyPerReplica,
      concurrency_source: input.concurrencySource,
    },
    estimated: {
      service_time_seconds: micro(workload.serviceTime),
      service_scv: round(workload.serviceScv),
      prefill_seconds: micro(workload.prefillTime),
    },
    now: predictionJson(now, meetsTarget(now, target)),
    required_replicas: required,
    at_required_replicas: required === null ? null : predictionJsonAt(required),
    headroom: {
      max_arrival_rate: round(maxRate),
      extra_arrival_rate: round(Math.max(0, maxRate - traffic.arrivalRate)),
      extra_ratio: traffic.arrivalRate > 0 ? round(maxRate / traffic.arrivalRate - 1) : null,
    },
    forecast: forecastJson(input.history, maxRate, settings),
  };

  function predictionJsonAt(replicas: number): PredictionJson {
    const prediction = predictReplicas(workload, replicas, target);
    return predictionJson(prediction, meetsTarget(prediction, target));
  }
}

function forecastJson(history: RateHistory | undefined, limit: number, settings: CapacitySettings): ForecastJson | null {
  if (history === undefined || history.rates.length < MIN_FORECAST_POINTS || !(history.stepSeconds > 0)) return null;
  const seasonLength = settings.seasonSeconds > 0 ? Math.round(settings.seasonSeconds / history.stepSeconds) : 0;
  const fit = fitSmoothing(history.rates, { seasonLength });
  const horizonSteps = Math.max(1, Math.ceil(settings.forecastHorizonSeconds / history.stepSeconds));
  const steps = stepsUntil(fit, limit, horizonSteps);
  return {
    method: fit.seasonal ? 'holt-winters' : 'holt',
    points: history.rates.length,
    step_seconds: history.stepSeconds,
    level: round(fit.level),
    trend_per_hour: round((fit.trend / history.stepSeconds) * 3600),
    at_horizon: round(Math.max(0, forecastAt(fit, horizonSteps))),
    horizon_seconds: settings.forecastHorizonSeconds,
    breach_in_seconds: steps === null ? null : round(steps * history.stepSeconds),
  };
}

function predictionJson(prediction: ReturnType<typeof predictReplicas>, meets: boolean): PredictionJson {
  return {
    replicas: prediction.replicas,
    utilisation: round(prediction.utilisation),
    wait_probability: round(prediction.waitProbability),
    mean_wait_seconds: finiteOrNull(micro(prediction.meanWait)),
    wait_quantile_seconds: finiteOrNull(micro(prediction.waitQuantile)),
    ttft_quantile_seconds: finiteOrNull(micro(prediction.ttftQuantile)),
    quantile: prediction.ttftQuantileLevel,
    meets_target: meets,
  };
}

function targetJson(target: CapacityTarget): TargetJson {
  return {
    wait_probability: target.waitProbability ?? null,
    mean_wait_seconds: target.meanWaitSeconds ?? null,
    ttft_quantile: target.ttft?.quantile ?? null,
    ttft_seconds: target.ttft?.seconds ?? null,
  };
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : value;
}

/** Seconds kept to the microsecond. */
function micro(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1_000_000) / 1_000_000 : value;
}
