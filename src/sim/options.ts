import { z } from 'zod';

/** Inclusive range of output tokens a request generates when nothing else decides. */
const outputTokensSchema = z
  .object({
    min: z.number().int().min(0).default(16),
    max: z.number().int().min(0).default(64),
  })
  .refine((range) => range.max >= range.min, { message: 'outputTokens.max must be >= outputTokens.min' });

const prefixCacheSchema = z.object({
  enabled: z.boolean().default(true),
  blockTokens: z.number().int().min(1).default(16),
  capacityBlocks: z.number().int().min(1).default(4096),
});

const probability = z.number().min(0).max(1).default(0);

const faultsSchema = z.object({
  errorRate: probability,
  errorStatus: z.number().int().min(400).max(599).default(500),
  spikeRate: probability,
  spikeMs: z.number().min(0).default(1000),
  disconnectRate: probability,
  hangRate: probability,
});

export const simulatorOptionsSchema = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(0),
  models: z.array(z.string().min(1)).min(1).default(['tollbooth-sim-model']),
  maxModelLen: z.number().int().min(1).default(4096),
  /** When set, every random draw, response id and `created` is deterministic. */
  seed: z.number().int().optional(),
  prefillBaseMs: z.number().min(0).default(15),
  /** Applied to uncached prompt tokens only, so prefix-cache hits shorten TTFT. */
  prefillPerTokenMs: z.number().min(0).default(0.05),
  /** 0 = unpaced: all chunks are written back to back. */
  interTokenMs: z.number().min(0).default(10),
  interTokenJitterMs: z.number().min(0).default(0),
  /** Like vLLM `--stream-interval`: tokens carried by one content chunk. */
  tokensPerChunk: z.number().int().min(1).default(1),
  outputTokens: outputTokensSchema.default({ min: 16, max: 64 }),
  prefixCache: prefixCacheSchema.default({ enabled: true, blockTokens: 16, capacityBlocks: 4096 }),
  /** vLLM `--enable-prompt-tokens-details`. */
  reportCachedTokens: z.boolean().default(false),
  maxRunning: z.number().int().min(1).default(256),
  apiKey: z.string().min(1).optional(),
  errorStyle: z.enum(['nested', 'legacy']).default('nested'),
  faults: faultsSchema.default({
    errorRate: 0,
    errorStatus: 500,
    spikeRate: 0,
    spikeMs: 1000,
    disconnectRate: 0,
    hangRate: 0,
  }),
  /** The simulated GPU behind GET /dcgm/metrics (DCGM exporter series; see dcgm.ts). */
  gpu: z
    .object({
      name: z.string().min(1).default('NVIDIA A100-SXM4-80GB'),
      /** Frame-buffer size in MiB (DCGM's unit); 81920 = 80 GiB. */
      memoryMiB: z.number().int().min(1).default(81_920),
      /** Weights of an 8B model in 16-bit floats, about 15 GiB. */
      weightsMiB: z.number().int().min(0).default(15_360),
      /** vLLM --gpu-memory-utilization. */
      memoryUtilization: z.number().gt(0).max(1).default(0.9),
    })
    .refine((gpu) => gpu.weightsMiB <= gpu.memoryMiB, { message: 'gpu.weightsMiB must not exceed gpu.memoryMiB' })
    .default({ name: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81_920, weightsMiB: 15_360, memoryUtilization: 0.9 }),
  truthCapacity: z.number().int().min(1).default(10_000),
  embeddingDimension: z.number().int().min(1).default(32),
  /** Reported by `GET /version`. */
  vllmVersion: z.string().default('0.11.0'),
  /**
   * vLLM `--otlp-traces-endpoint`: export an `llm_request` span per finished request over
   * OTLP/HTTP protobuf (a base like http://jaeger:4318 or the full …/v1/traces URL). Unset: no tracing.
   */
  otlpTracesEndpoint: z
    .string()
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), { message: 'must be an http(s) URL' })
    .optional(),
  /** `service.name` of the exported spans. */
  otlpServiceName: z.string().min(1).default('vllm-simulator'),
});

export type SimulatorOptions = z.infer<typeof simulatorOptionsSchema>;
export type SimulatorOptionsInput = z.input<typeof simulatorOptionsSchema>;
export type FaultOptions = SimulatorOptions['faults'];
