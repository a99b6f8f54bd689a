import { z } from 'zod';
import { DETECTOR_KINDS } from './detectors.js';

/**
 * `analytics.anomaly` in the config file: online anomaly detection over the statistics' closed
 * slots (src/analytics/anomaly/). The defaults are the ones `npm run eval:anomaly` supports
 * (src/analytics/anomaly/README.md has its table): a 2× TTFT p95 step is found within a minute and
 * stationary or diurnal noise raises well under one false alarm per day per signal.
 */
export const anomalyConfigSchema = z
  .object({
    /** On by default: a timer reads a few closed slots every sampleIntervalMs; nothing runs per request. */
    enabled: z.boolean().default(true),
    /** Which detector judges the slots: ewma (adaptive band), zscore (rolling window) or cusum (change detector). */
    detector: z.enum(DETECTOR_KINDS).default('cusum'),
    /** |σ| beyond which a slot is out of band (ewma, zscore); cusum learns its baseline only from slots within it. */
    thresholdSigma: z.number().positive().default(4),
    /** Slots each series learns before it is judged (30 slots = 5 minutes at the default 10 s slots). */
    warmupSlots: z.number().int().min(2).default(30),
    /**
     * Consecutive out-of-band slots (same direction) that make a finding. 1 suits cusum, whose
     * sum is already the evidence of several slots; ewma and zscore want 2 or more.
     */
    confirmSlots: z.number().int().min(1).default(1),
    /** Consecutive calm (or empty) slots that resolve a finding. */
    clearSlots: z.number().int().min(1).default(6),
    ewmaAlpha: z.number().gt(0).max(1).default(0.05),
    zscoreWindowSlots: z.number().int().min(4).max(1_000).default(60),
    cusumK: z.number().nonnegative().default(0.75),
    cusumH: z.number().positive().default(7),
    /** Slots a CUSUM alarm lasts before the new level becomes its baseline (and the finding clears). */
    cusumRelearnSlots: z.number().int().min(1).default(60),
    /** CUSUM: deviations are clipped to ±this many σ before they are summed (robust to single outlier slots). */
    cusumClipSigma: z.number().positive().default(3),
    /** The hour-of-day baseline, used once every hour has minDays days of history. */
    seasonal: z
      .object({
        enabled: z.boolean().default(true),
        minDays: z.number().int().min(1).max(30).default(2),
      })
      .strict()
      .prefault({}),
    /** Requests a slot needs for its TTFT p95, TPOT and error rate to be judged (a p95 of fewer is mostly its outliers). */
    minSamples: z.number().int().min(1).default(20),
    /** Findings that start this close together (and share a scope or a model) are one incident. */
    correlationWindowMs: z.number().int().positive().default(300_000),
    /** Most models + replicas tracked (each has one fixed-size state per signal); more are ignored and counted. */
    maxScopes: z.number().int().min(1).max(10_000).default(256),
    /** How often the timer samples the engine queues and reads newly closed slots. */
    sampleIntervalMs: z.number().int().positive().default(2_000),
    /** Resolved findings kept for GET /api/v1/anomalies. */
    recentFindings: z.number().int().min(0).max(1_000).default(50),
  })
  .strict();

export type AnomalyConfig = z.infer<typeof anomalyConfigSchema>;
