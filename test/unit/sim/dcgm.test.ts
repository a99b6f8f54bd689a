import { describe, expect, it } from 'vitest';
import { parseDcgm } from '../../../src/routing/dcgm.js';
import { SimDcgm } from '../../../src/sim/dcgm.js';

describe('the simulator’s DCGM page', () => {
  it('memory used = weights + KV-cache use × KV memory; utilisation follows the running sequences', async () => {
    const load = { running: 0, kv: 0 };
    const dcgm = new SimDcgm(
      { name: 'NVIDIA A10G', memoryMiB: 24_000, weightsMiB: 6_000, memoryUtilization: 0.9 },
      { running: () => load.running, kvCacheUsage: () => load.kv },
      'host-1',
      'GPU-test',
    );
    const read = async () => parseDcgm(await dcgm.registry.metrics(), 0).gpus;
    expect(await read()).toEqual([{ gpu: '0', name: 'NVIDIA A10G', usedMiB: 6_000, freeMiB: 18_000, utilizationPercent: 0 }]);
    // KV memory = 0.9 × 24000 − 6000 = 15600 MiB; half of it in use.
    load.kv = 0.5;
    load.running = 1;
    expect(await read()).toEqual([{ gpu: '0', name: 'NVIDIA A10G', usedMiB: 13_800, freeMiB: 10_200, utilizationPercent: 50 }]);
    load.kv = 1;
    load.running = 9;
    expect(await read()).toEqual([{ gpu: '0', name: 'NVIDIA A10G', usedMiB: 21_600, freeMiB: 2_400, utilizationPercent: 90 }]);
    const text = await dcgm.registry.metrics();
    expect(text).toMatch(/DCGM_FI_DEV_FB_USED\{gpu="0",UUID="GPU-test",device="nvidia0",modelName="NVIDIA A10G",Hostname="host-1"\} 21600/);
  });
});
