import { z } from 'zod';

/**
 * `analytics.capacity` in the config file: the target the planner sizes for, the concurrency of
 * each model's replicas (vLLM's max_num_seqs) and the forecast's reach.
 */
const targetSchema = z
  .object({
    /** Upper bound of the probability that a request waits in the engine's queue. */
    waitProbability: z.number().gt(0).lt(1).optional(),
    /** Upper bound of the mean queueing delay, seconds. */
    meanWaitSeconds: z.number().positive().optional(),
    /** Upper bound of TTFT at a quantile: predicted as the queueing delay at that quantile plus the prefill time. */
    ttft: z
      .object({ quantile: z.number().gt(0).lt(1).default(0.95), seconds: z.number().positive() })
      .strict()
      .optional(),
  })
  .strict();

export const DEFAULT_CAPACITY_TARGET = { waitProbability: 0.05, ttft: { quantile: 0.95, seconds: 1 } } as const;

export const capacityConfigSchema = z
  .object({
    /** GET /api/v1/capacity on the admin listener (behind the metrics credentials). */
    enabled: z.boolean().default(true),
    /** Every bound given must hold; the default: P(wait) ≤ 5 % and TTFT p95 ≤ 1 s. */
    target: targetSchema.default(DEFAULT_CAPACITY_TARGET),
    /**
     * Concurrent sequences per replica when neither `models` names it nor the engines showed it
     * (their running count while requests wait). vLLM's default max_num_seqs is 256.
     */
    defaultConcurrencyPerReplica: z.number().int().min(1).default(256),
    /** Per model: vLLM's max_num_seqs of its replicas. */
    models: z.record(z.string().min(1), z.object({ maxNumSeqs: z.number().int().min(1) }).strict()).default({}),
    /** How far the demand forecast looks for the point where the target breaks, seconds (default 30 days). */
    forecastHorizonSeconds: z.number().positive().default(30 * 86_400),
    /** The demand's season for Holt–Winters when the history holds two of them, seconds; 0: trend only. */
    seasonSeconds: z.number().int().nonnegative().default(86_400),
  })
  .strict();

export type CapacityConfig = z.infer<typeof capacityConfigSchema>;
