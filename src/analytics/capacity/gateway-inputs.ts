import type { LogHistogram } from '../../telemetry/stats/log-histogram.js';
import type { ModelWindows } from '../../telemetry/stats/request-statistics.js';
import type { ConcurrencySource, ModelCapacityInput } from './capacity-report.js';
import type { CapacityConfig } from './config.js';
import { arrivalScvFromCounts } from './service-estimate.js';

/** What the fleet says about one model's replicas. */
export interface ModelFleet {
  /** Replicas serving the model that are healthy now (all that serve it when none is). */
  readonly replicas: number;
  /** Concurrency learned from their engines (ConcurrencyLearner), undefined when never saturated. */
  readonly learnedConcurrency: number | undefined;
}

/**
 * The planner's inputs per model from the gateway's own statistics: λ is the window's requests over
 * its span, ca² the dispersion of the per-slot counts, the latency moments come from the window's
 * latency histogram (all requests of the model, failed ones included), the history is the per-slot
 * rate. Models without requests in the window are left out.
 */
export function gatewayCapacityInputs(
  windows: ModelWindows,
  fleetOf: (model: string) => ModelFleet,
  config: Pick<CapacityConfig, 'models' | 'defaultConcurrencyPerReplica'>,
): Map<string, ModelCapacityInput> {
  const inputs = new Map<string, ModelCapacityInput>();
  const spanSeconds = windows.spanMs / 1000;
  const stepSeconds = windows.slotMs / 1000;
  for (const [model, window] of windows.models) {
    const latency = momentsInSeconds(window.aggregate.latency);
    if (latency === undefined || !(spanSeconds > 0)) continue;
    const fleet = fleetOf(model);
    const configured = config.models[model]?.maxNumSeqs;
    const [concurrency, source]: [number, ConcurrencySource] =
      configured !== undefined
        ? [configured, 'config']
        : fleet.learnedConcurrency !== undefined
          ? [fleet.learnedConcurrency, 'learned']
          : [config.defaultConcurrencyPerReplica, 'default'];
    const ttftMean = window.aggregate.ttft.mean();
    inputs.set(model, {
      requests: window.aggregate.total,
      spanSeconds,
      traffic: {
        arrivalRate: window.aggregate.total / spanSeconds,
        arrivalScv: arrivalScvFromCounts(window.slotCounts),
        latencyMean: latency.mean,
        latencyVariance: latency.variance,
        ttftMean: ttftMean === null ? undefined : ttftMean / 1000,
        replicas: fleet.replicas,
        concurrencyPerReplica: concurrency,
      },
      concurrencySource: source,
      history: { stepSeconds, rates: window.slotCounts.map((count) => count / stepSeconds) },
    });
  }
  return inputs;
}

/**
 * Mean (exact, from the sum) and variance of a millisecond histogram, in seconds. The variance
 * takes each bucket's values at its midpoint (narrowed to the exact min and max); with 4 % buckets
 * that is within a few percent.
 */
export function momentsInSeconds(histogram: LogHistogram): { mean: number; variance: number } | undefined {
  const mean = histogram.mean();
  if (mean === null || !(mean > 0)) return undefined;
  const { counts, layout } = histogram;
  let squares = 0;
  for (let bucket = 0; bucket < counts.length; bucket++) {
    const count = counts[bucket]!;
    if (count === 0) continue;
    const low = Math.max(layout.lowerBounds[bucket]!, histogram.min);
    const high = Math.min(layout.upperBound(bucket), histogram.max);
    const middle = (low + high) / 2;
    squares += count * (middle - mean) ** 2;
  }
  const variance = histogram.count > 1 ? squares / (histogram.count - 1) : 0;
  return { mean: mean / 1000, variance: variance / 1_000_000 };
}
