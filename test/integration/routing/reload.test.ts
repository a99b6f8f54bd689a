import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { startGateway } from '../../../src/main.js';
import { startSimulator } from '../../../src/sim/index.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';

const teardown = teardownAfterEach();

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('configuration reload', () => {
  it('applies a new replica set without dropping in-flight streams, and rejects an invalid file', async () => {
    const simulators = await Promise.all([0, 1, 2].map(() => startSimulator({ models: ['test-model'], interTokenMs: 10, prefillBaseMs: 1 })));
    for (const simulator of simulators) teardown.defer(() => simulator.close());
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-reload-')), 'tollbooth.yaml');
    const writeReplicas = (indexes: number[]) =>
      writeFileSync(
        file,
        stringify({
          server: { host: '127.0.0.1', port: 0 },
          admin: { port: 0 },
          auth: { enabled: false },
          routing: { strategy: 'round-robin' },
          replicas: indexes.map((index) => ({ name: `sim-${index}`, url: simulators[index]!.url, models: ['test-model'] })),
        }),
      );
    writeReplicas([0, 1]);
    const logs: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const running = await startGateway(loadConfig({ file, env: {} }), createLogger('info', sink), { configFile: file, env: {} });
    teardown.defer(() => running.shutdown('test over'));

    // Streams on both replicas, long enough to outlive the reload.
    const streams = [0, 1, 2, 3].map((i) =>
      postJson(
        `${running.url}/v1/chat/completions`,
        { model: 'test-model', stream: true, max_tokens: 40, messages: [{ role: 'user', content: `s${i}` }] },
        { 'x-sim-tokens': '40' },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    writeReplicas([0, 2]);
    await waitFor(() => logs.some((line) => line.msg === 'replica set changed'), 'the reload');
    expect(logs.find((line) => line.msg === 'replica set changed')).toMatchObject({ added: ['sim-2'], removed: ['sim-1'] });

    for (const stream of await Promise.all(streams)) {
      expect(stream.status).toBe(200);
      expect(stream.text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(stream.text.split('"content":"').length - 1).toBe(41);
    }
    const after = await Promise.all([0, 1, 2, 3].map(async () => (await postJson(`${running.url}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 1 })).headers.get('x-tollbooth-replica')));
    expect(new Set(after)).toEqual(new Set(['sim-0', 'sim-2']));

    writeFileSync(file, 'replicas:\n  - url: not a url\n    models: []\n');
    await waitFor(() => logs.some((line) => line.msg === 'configuration reload rejected: keeping the running configuration'), 'the rejection');
    expect(logs.find((line) => line.msg === 'configuration reload rejected: keeping the running configuration')?.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^replicas\.0\.url: /), expect.stringMatching(/^replicas\.0\.models: /)]),
    );
    expect((await postJson(`${running.url}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 1 })).status).toBe(200);

    // SIGHUP reloads too.
    writeReplicas([1]);
    const reloadsBefore = logs.filter((line) => line.msg === 'configuration reloaded').length;
    process.emit('SIGHUP', 'SIGHUP');
    await waitFor(() => logs.filter((line) => line.msg === 'configuration reloaded').length > reloadsBefore, 'the SIGHUP reload');
    await waitFor(() => running.gateway.registry.replicas.map((replica) => replica.name).join() === 'sim-1', 'the new set');
  });
});
