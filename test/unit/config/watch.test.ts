import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { watchConfigFile } from '../../../src/config/watch.js';
import type { TollboothConfig } from '../../../src/config/schema.js';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';

describe('watchConfigFile', () => {
  it('reports a reload it could not apply, and still applies the next one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-watch-')), 'tollbooth.yaml');
    writeFileSync(file, stringify({ auth: { enabled: false }, replicas: [{ name: 'a', url: 'http://127.0.0.1:9', models: ['m'] }] }));
    const registry = new Registry();
    const log = pino({ level: 'silent' });
    const internalErrors = new InternalErrors(log);
    internalErrors.countInto(createInstruments(registry, { replicas: () => [] }, 'test').internalErrors);
    const applied: TollboothConfig[] = [];
    const watcher = watchConfigFile(
      file,
      {},
      log,
      async (config) => {
        applied.push(config);
        if (applied.length === 1) throw new Error('the replica set could not be applied');
      },
      internalErrors,
    );
    try {
      process.emit('SIGHUP', 'SIGHUP');
      process.emit('SIGHUP', 'SIGHUP');
      const deadline = Date.now() + 10_000;
      while (applied.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      watcher.stop();
    }
    expect(applied).toHaveLength(2);
    const counted = (await registry.getSingleMetric('tollbooth_internal_errors_total')?.get())?.values.find((value) => value.labels.stage === 'config_reload');
    expect(counted?.value).toBe(1);
  });
});
