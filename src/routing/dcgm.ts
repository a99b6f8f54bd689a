import { MetricNameFilter, scanPrometheusText } from './prometheus-text.js';

/** One GPU as DCGM reports it (MiB and percent, as exported). */
export interface GpuDeviceInput {
  readonly gpu: string;
  readonly name: string | undefined;
  readonly usedMiB: number;
  readonly freeMiB: number;
  readonly utilizationPercent: number | undefined;
}

/**
 * GPU figures from a DCGM exporter page (NVIDIA dcgm-exporter, or any Prometheus text endpoint
 * with the same series):
 *
 * | series                  | unit | meaning                              |
 * |-------------------------|------|--------------------------------------|
 * | `DCGM_FI_DEV_FB_USED`   | MiB  | frame-buffer memory in use           |
 * | `DCGM_FI_DEV_FB_FREE`   | MiB  | frame-buffer memory free             |
 * | `DCGM_FI_DEV_GPU_UTIL`  | %    | share of time a kernel was running   |
 *
 * One device per distinct `gpu` label (dcgm-exporter's GPU index; `UUID` when there is no `gpu`
 * label, else "0"); its name is the `modelName` label. A device needs both memory series; its
 * utilisation is optional. Several samples of one series for one device (e.g. one per MIG instance
 * or per pod label set) are summed for memory and averaged for utilisation. Non-finite or negative
 * samples are ignored.
 */
export interface GpuStats {
  readonly gpus: readonly GpuDeviceInput[];
  /** The caller's monotonic clock (ms) when the page was read. */
  readonly scrapedAt: number;
}

export const DCGM_METRIC_NAMES = {
  used: 'DCGM_FI_DEV_FB_USED',
  free: 'DCGM_FI_DEV_FB_FREE',
  utilization: 'DCGM_FI_DEV_GPU_UTIL',
} as const;

/** Thrown when a page has no GPU with both memory series. */
export class NotADcgmPageError extends Error {
  constructor() {
    super(`the page has no GPU with both ${DCGM_METRIC_NAMES.used} and ${DCGM_METRIC_NAMES.free}`);
    this.name = 'NotADcgmPageError';
  }
}

const WANTED = new MetricNameFilter(Object.values(DCGM_METRIC_NAMES));

interface Device {
  name: string | undefined;
  used: number | undefined;
  free: number | undefined;
  utilizationSum: number;
  utilizationCount: number;
}

export function parseDcgm(text: string, scrapedAt: number): GpuStats {
  const devices = new Map<string, Device>();
  scanPrometheusText(
    text,
    (sample) => {
      if (!Number.isFinite(sample.value) || sample.value < 0) return;
      const id = sample.labels['gpu'] ?? sample.labels['UUID'] ?? '0';
      let device = devices.get(id);
      if (device === undefined) {
        device = { name: undefined, used: undefined, free: undefined, utilizationSum: 0, utilizationCount: 0 };
        devices.set(id, device);
      }
      device.name ??= sample.labels['modelName'];
      if (sample.name === DCGM_METRIC_NAMES.used) device.used = (device.used ?? 0) + sample.value;
      else if (sample.name === DCGM_METRIC_NAMES.free) device.free = (device.free ?? 0) + sample.value;
      else {
        device.utilizationSum += sample.value;
        device.utilizationCount += 1;
      }
    },
    WANTED,
  );
  const gpus: GpuDeviceInput[] = [];
  for (const id of [...devices.keys()].sort(byNumberThenText)) {
    const device = devices.get(id)!;
    if (device.used === undefined || device.free === undefined) continue;
    gpus.push({
      gpu: id,
      name: device.name,
      usedMiB: device.used,
      freeMiB: device.free,
      utilizationPercent: device.utilizationCount === 0 ? undefined : Math.min(100, device.utilizationSum / device.utilizationCount),
    });
  }
  if (gpus.length === 0) throw new NotADcgmPageError();
  return { gpus, scrapedAt };
}

function byNumberThenText(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (Number.isInteger(x) && Number.isInteger(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}
