import { z } from 'zod';

const positiveMs = z.number().int().positive();

/** Token timing, the statistics' window and the metrics endpoints' credentials: the `metrics` section of the configuration (composed in config/schema.ts). */
export const metricsConfigSchema = z
  .object({
    /**
     * Token timing and usage: the stream tap, usage reads, GET /metrics (Prometheus) and
     * GET /api/v1/metrics (JSON). Off, the gateway is a plain proxy and the access log keeps
     * only status, bytes and durations.
     */
    enabled: z.boolean().default(true),
    /** When set, both endpoints require `Authorization: Bearer <token>`. */
    bearerToken: z.string().min(16, 'use at least 16 characters').optional(),
    /** When set, both endpoints accept HTTP basic auth with these credentials. */
    basicAuth: z.object({ username: z.string().min(1), password: z.string().min(8) }).strict().optional(),
    /** Sliding window of the JSON API. */
    windowMs: positiveMs.default(300_000),
    /** The window's slot: its granularity, and the series step of the anomaly detectors (analytics.anomaly). */
    slotMs: positiveMs.default(10_000),
    /**
     * Ask vLLM for the usage frame of streams whose client did not (stream_options.include_usage)
     * and remove it before it reaches the client: exact token counts for every stream.
     */
    requestStreamUsage: z.boolean().default(true),
  })
  .strict();

export type MetricsConfig = z.infer<typeof metricsConfigSchema>;
