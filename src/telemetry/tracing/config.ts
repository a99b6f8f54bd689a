import { z } from 'zod';

/**
 * The `tracing` section. Where spans go (endpoint, protocol), how many are kept (sampler) and the
 * service name come from the standard OTEL_* variables, so the same settings work for every
 * OpenTelemetry SDK in a deployment; this section only holds what is Tollbooth's own choice.
 * Tracing runs only when an OTLP endpoint is configured and OTEL_SDK_DISABLED is not true.
 */
export const tracingConfigSchema = z
  .object({
    /** false: never start the SDK, even when an OTLP endpoint is set. */
    enabled: z.boolean().default(true),
    /**
     * Record prompt and completion text on the upstream span (gen_ai.input.messages,
     * gen_ai.output.messages). Off by default: prompts hold whatever users typed.
     */
    captureContent: z.boolean().default(false),
    /** With captureContent: longest text kept per attribute (characters); the rest is cut. */
    contentLimitChars: z.number().int().positive().default(16_384),
    /** On shutdown, how long queued spans may take to export before the process exits without them. */
    shutdownTimeoutMs: z.number().int().positive().default(3_000),
  })
  .strict()
  .prefault({});

export type TracingConfig = z.infer<typeof tracingConfigSchema>;
