import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { runCli } from '../../helpers/cli.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';

const teardown = teardownAfterEach();

function writeConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-ops-')), 'tollbooth.yaml');
  // These tests are about the process, not keys.
  writeFileSync(file, `${text}\nauth:\n  enabled: false\n`);
  return file;
}

describe('health and readiness', () => {
  it('/health is always 200; /ready follows the replicas', async () => {
    const { gateway, simulators } = await teardown.fleet({ replicas: 2 });
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    const ready = await fetch(`${gateway.adminUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', replicas: [{ name: 'sim-0', health: 'healthy' }, { name: 'sim-1', health: 'healthy' }] });

    await Promise.all(simulators.map((simulator) => simulator.close()));
    await gateway.gateway.monitor.probeAll();
    const notReady = await fetch(`${gateway.adminUrl}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ status: 'not_ready', replicas: [{ health: 'unhealthy', last_error: expect.any(String) }, { health: 'unhealthy' }] });
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    expect(gateway.logs.filter((line) => line.msg === 'replica is unhealthy')).toHaveLength(2);
  });

  it('stops routing to a replica whose probe fails, and resumes when it recovers', async () => {
    const { gateway, simulators } = await teardown.fleet({ replicas: 2, gateway: { routing: { strategy: 'round-robin' } } });
    const port = simulators[1]!.port;
    await simulators[1]!.close();
    await gateway.gateway.monitor.probeAll();
    for (let i = 0; i < 4; i += 1) {
      const response = await postJson(`${gateway.url}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 1 }, { 'x-request-id': `only-0-${i}` });
      expect(response.status).toBe(200);
      expect((await gateway.accessLineOf(`only-0-${i}`)).replica).toBe('sim-0');
    }
    const revived: RunningSimulator = await startSimulator({ port, models: ['test-model'] });
    teardown.defer(() => revived.close());
    await gateway.gateway.monitor.probeAll();
    const replicas = await Promise.all(
      [0, 1].map(async (i) => {
        await postJson(`${gateway.url}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 1 }, { 'x-request-id': `both-${i}` });
        return (await gateway.accessLineOf(`both-${i}`)).replica;
      }),
    );
    expect(new Set(replicas)).toEqual(new Set(['sim-0', 'sim-1']));
  });
});

describe('access log', () => {
  it('writes one line per request with the facts of the exchange, and never a credential', async () => {
    const { gateway } = await teardown.fleet({ simulator: { interTokenMs: 1 } });
    await postJson(
      `${gateway.url}/v1/chat/completions`,
      { model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true },
      { authorization: 'Bearer sk-very-secret-key', 'x-api-key': 'sk-other-secret', 'x-request-id': 'logged' },
    );
    await postJson(`${gateway.url}/v1/chat/completions`, '{bad json', { authorization: 'Bearer sk-very-secret-key', 'x-request-id': 'bad' });
    const line = await gateway.accessLineOf('logged');
    expect(line).toMatchObject({
      request_id: 'logged',
      method: 'POST',
      route: '/v1/chat/completions',
      model: 'test-model',
      replica: 'sim-0',
      status: 200,
      stream: true,
      client_disconnected: false,
      error_code: null,
    });
    expect(line.duration_ms).toBeGreaterThan(0);
    expect(line.bytes).toBeGreaterThan(100);
    expect(await gateway.accessLineOf('bad')).toMatchObject({ status: 400, error_code: 'invalid_json', replica: null });
    expect(gateway.accessLines().filter((entry) => entry.request_id === 'logged')).toHaveLength(1);
    expect(JSON.stringify(gateway.logs)).not.toMatch(/sk-very-secret-key|sk-other-secret/);
  });
});

describe('the tollbooth process', () => {
  it('reports every configuration problem with its path and exits non-zero', async () => {
    const file = writeConfig('server:\n  port: -5\nreplicas:\n  - url: not-a-url\n    models: []\nlogging:\n  level: loud\n');
    const cli = runCli(['check-config', '--config', file]);
    expect((await cli.exited()).code).toBe(2);
    const lines = cli.stderr();
    expect(lines).toContain('invalid configuration');
    for (const path of ['server.port', 'replicas.0.url', 'replicas.0.models', 'logging.level']) expect(lines).toContain(`  - ${path}: `);
  });

  /** A simulator and a real `tollbooth start` process in front of it, with one stream running. */
  async function gatewayProcessWithStream(options: { interTokenMs: number; drainTimeoutMs: number; requestId: string; tokens: number }) {
    const simulator = await startSimulator({ models: ['test-model'], interTokenMs: options.interTokenMs, prefillBaseMs: 1 });
    teardown.defer(() => simulator.close());
    const file = writeConfig(
      `server:\n  host: 127.0.0.1\n  port: 0\n  drainTimeoutMs: ${options.drainTimeoutMs}\nadmin:\n  port: 0\nreplicas:\n  - url: ${simulator.url}\n    models: [test-model]\n`,
    );
    const cli = runCli(['start', '--config', file]);
    teardown.defer(async () => cli.child.kill('SIGKILL'));
    const url = (JSON.parse(await cli.waitForLine(/tollbooth is listening/)) as { url: string }).url;
    const stream = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': options.requestId, 'x-sim-tokens': String(options.tokens) },
      body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'x' }], max_tokens: options.tokens, stream: true }),
    }).then((response) => response.text());
    // Let the stream get going before the signal.
    await new Promise((resolve) => setTimeout(resolve, 150));
    return { simulator, cli, url, stream };
  }

  it('drains on SIGTERM: refuses new connections, lets the running stream finish, exits 0', async () => {
    const { cli, url, stream } = await gatewayProcessWithStream({ interTokenMs: 20, drainTimeoutMs: 10_000, requestId: 'in-flight', tokens: 40 });
    cli.child.kill('SIGTERM');
    await cli.waitForLine(/draining/);
    await expect(fetch(`${url}/health`)).rejects.toThrow();

    const text = await stream;
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text.split('"content"').length - 1).toBe(41);
    expect(await cli.exited()).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toContain('tollbooth stopped');
  });
});
