import { Gauge, Registry } from 'prom-client';

/** The simulated GPU (options.gpu). */
export interface SimGpuOptions {
  /** DCGM's modelName label. */
  readonly name: string;
  /** Frame-buffer size, MiB (DCGM's unit). */
  readonly memoryMiB: number;
  /** Memory the model weights take, MiB: always in use. */
  readonly weightsMiB: number;
  /** vLLM --gpu-memory-utilization: the share of the GPU vLLM may use; KV memory = this × memory − weights. */
  readonly memoryUtilization: number;
}

export interface GpuLoadSource {
  /** Sequences running now (all models). */
  running(): number;
  /** KV-cache use, 0–1 (what vllm:kv_cache_usage_perc reports). */
  kvCacheUsage(): number;
}

/**
 * What NVIDIA's DCGM exporter would say about the simulator's one GPU, served at GET /dcgm/metrics
 * (a registry of its own, so /metrics stays vLLM's page):
 *
 * - `DCGM_FI_DEV_FB_USED` (MiB) = weights + KV-cache use × KV memory, where KV memory =
 *   memoryUtilization × memory − weights;
 * - `DCGM_FI_DEV_FB_FREE` (MiB) = memory − used;
 * - `DCGM_FI_DEV_GPU_UTIL` (%) follows the running sequences: 100 × r / (r + 1) (0 idle, 50 with
 *   one sequence, 90 with nine), as a GPU is busy as soon as one sequence decodes.
 *
 * Labels as dcgm-exporter writes them: gpu="0", UUID, device="nvidia0", modelName, Hostname.
 */
export class SimDcgm {
  readonly registry = new Registry();

  constructor(gpu: SimGpuOptions, source: GpuLoadSource, hostname: string, uuid: string) {
    const labels = { gpu: '0', UUID: uuid, device: 'nvidia0', modelName: gpu.name, Hostname: hostname };
    const labelNames = Object.keys(labels);
    const kvMiB = Math.max(0, gpu.memoryUtilization * gpu.memoryMiB - gpu.weightsMiB);
    const used = (): number => Math.min(gpu.memoryMiB, Math.round(gpu.weightsMiB + clamp01(source.kvCacheUsage()) * kvMiB));
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.set(labels, read());
        },
      });
    };
    gauge('DCGM_FI_DEV_FB_USED', 'Framebuffer memory used (in MiB).', used);
    gauge('DCGM_FI_DEV_FB_FREE', 'Framebuffer memory free (in MiB).', () => gpu.memoryMiB - used());
    gauge('DCGM_FI_DEV_GPU_UTIL', 'GPU utilization (in %).', () => {
      const running = Math.max(0, source.running());
      return Math.round((100 * running) / (running + 1));
    });
  }
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
