import { z } from 'zod';
import { DEFAULT_MONITORING_CONFIG } from '../../monitoring/config.js';
import { LATENCY_HISTOGRAMS } from '../../monitoring/rules.js';

/**
 * `analytics.report` in the config file: the objectives `tollbooth report` judges. Each objective
 * is evaluated over every calendar window (UTC hour, day or month) of its `window` that meets the
 * report's range; it is met when every such window meets it.
 */

export const REPORT_WINDOWS = ['hourly', 'daily', 'monthly'] as const;
export type ReportWindow = (typeof REPORT_WINDOWS)[number];

/** The latency histograms an objective may read: the gateway's TTFT and its end-to-end latency ("response time"). */
export const LATENCY_SLIS = {
  ttft: mixinHistogram('TTFT'),
  latency: mixinHistogram('end-to-end latency'),
} as const;
export type LatencySli = keyof typeof LATENCY_SLIS;

/** The metric of one of the monitoring mixin's latency histograms, by its title there. */
function mixinHistogram(title: (typeof LATENCY_HISTOGRAMS)[number]['title']): string {
  return LATENCY_HISTOGRAMS.find((histogram) => histogram.title === title)!.metric;
}

const window = z.enum(REPORT_WINDOWS);
const ratio = z.number().gt(0).lt(1);

const objectiveSchema = z.discriminatedUnion('sli', [
  /** Share of a model's requests that did not end in a 5xx, at least `objective`. */
  z.object({ sli: z.literal('availability'), objective: ratio, window }).strict(),
  /** Share of requests that ended in a 5xx, below `max`. */
  z.object({ sli: z.literal('error_rate'), max: ratio, window }).strict(),
  /** The `quantile` of the latency histogram at most `thresholdSeconds`. */
  z
    .object({
      sli: z.enum(Object.keys(LATENCY_SLIS) as [LatencySli, ...LatencySli[]]),
      quantile: ratio,
      thresholdSeconds: z.number().positive(),
      window,
    })
    .strict(),
]);

export type Objective = z.infer<typeof objectiveSchema>;

/**
 * The reference's objectives (availability 99.9 % monthly; response time p50 ≤ 1 s, p95 ≤ 3 s,
 * p99 ≤ 10 s daily; error rate < 0.1 % hourly) and the monitoring mixin's TTFT SLO (95 % of streams
 * within 1 s, i.e. TTFT p95 ≤ 1 s), judged daily. The availability objective is the mixin's.
 */
export const DEFAULT_OBJECTIVES: readonly Objective[] = [
  { sli: 'availability', objective: DEFAULT_MONITORING_CONFIG.slo.availability.objective, window: 'monthly' },
  { sli: 'latency', quantile: 0.5, thresholdSeconds: 1, window: 'daily' },
  { sli: 'latency', quantile: 0.95, thresholdSeconds: 3, window: 'daily' },
  { sli: 'latency', quantile: 0.99, thresholdSeconds: 10, window: 'daily' },
  { sli: 'error_rate', max: 0.001, window: 'hourly' },
  { sli: 'ttft', quantile: DEFAULT_MONITORING_CONFIG.slo.ttft.objective, thresholdSeconds: DEFAULT_MONITORING_CONFIG.slo.ttft.thresholdSeconds, window: 'daily' },
];

export const reportConfigSchema = z
  .object({
    objectives: z.array(objectiveSchema).min(1).default([...DEFAULT_OBJECTIVES]),
    /**
     * Prefill throughput of a replica (input tokens per second) for the prefix-cache ROI of models
     * charged by replica time: a cached input token saves 1/prefillTokensPerSecond seconds of the
     * replica. Absent: the ROI of such models shows the cached tokens only.
     */
    prefillTokensPerSecond: z.number().positive().optional(),
  })
  .strict();

export type ReportConfig = z.infer<typeof reportConfigSchema>;
