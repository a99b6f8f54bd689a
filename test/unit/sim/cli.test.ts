import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { simulatorOptionsFromArgs } from '../../../src/sim/cli.js';
import { simulatorOptionsSchema } from '../../../src/sim/options.js';

describe('tollbooth sim arguments', () => {
  it('maps flags to options, repeating --model, with flags overriding the YAML config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const config = join(dir, 'sim.yaml');
    await writeFile(config, 'interTokenMs: 99\nmaxRunning: 3\nfaults:\n  errorRate: 0.1\n');
    const options = await simulatorOptionsFromArgs([
      '--port', '8123', '--model', 'a', '--model', 'b', '--seed', '5', '--ttft-ms', '7', '--itl-ms', '2', '--tokens-per-chunk', '4', '--config', config,
    ]);
    expect(options).toMatchObject({ port: 8123, models: ['a', 'b'], seed: 5, prefillBaseMs: 7, interTokenMs: 2, tokensPerChunk: 4, maxRunning: 3 });
    expect(simulatorOptionsSchema.parse(options).faults.errorRate).toBe(0.1);
  });

  it('names the simulated GPU (flags over the YAML, the rest of the YAML kept)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const config = join(dir, 'sim.yaml');
    await writeFile(config, 'gpu:\n  weightsMiB: 4000\n  name: from-yaml\n');
    const options = await simulatorOptionsFromArgs(['--gpu-name', 'NVIDIA L4', '--gpu-memory-mib', '23034', '--config', config]);
    expect(simulatorOptionsSchema.parse(options).gpu).toEqual({ name: 'NVIDIA L4', memoryMiB: 23_034, weightsMiB: 4000, memoryUtilization: 0.9 });
    expect(simulatorOptionsSchema.parse({}).gpu).toEqual({ name: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81_920, weightsMiB: 15_360, memoryUtilization: 0.9 });
    await expect(simulatorOptionsFromArgs(['--gpu-memory-mib', '100'])).rejects.toThrow(/weightsMiB/);
  });

  it('returns help and rejects bad values', async () => {
    expect(await simulatorOptionsFromArgs(['--help'])).toBe('help');
    await expect(simulatorOptionsFromArgs(['--port', 'abc'])).rejects.toThrow(/--port/);
    await expect(simulatorOptionsFromArgs(['--bogus'])).rejects.toThrow();
  });

  it('fills defaults', () => {
    const defaults = simulatorOptionsSchema.parse({});
    expect(defaults).toMatchObject({ host: '127.0.0.1', port: 0, models: ['tollbooth-sim-model'], maxModelLen: 4096, errorStyle: 'nested', truthCapacity: 10_000 });
    expect(defaults.prefixCache).toEqual({ enabled: true, blockTokens: 16, capacityBlocks: 4096 });
  });
});
