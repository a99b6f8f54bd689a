import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { startSimulator } from '../../../src/sim/index.js';
import { runCli, type CliProcess } from '../../helpers/cli.js';

/**
 * The bar of the admin surface, on the built CLI as users run it: in the default configuration
 * (only the replicas, a key, and free ports given) and in the demo's, /metrics and /api/v1/metrics
 * are unreachable on the API port and served on the admin listener.
 */
const METRICS_PATHS = ['/metrics', '/metrics/prometheus', '/api/v1/metrics'];
const running: CliProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cli of running.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGKILL');
      await cli.exited();
    }
  }
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Free ports only: everything else is the CLI's own default. */
const FREE_PORTS = { TOLLBOOTH_PORT: '0', TOLLBOOTH_ADMIN_PORT: '0' };

function loopback(url: string): string {
  return url.replace('0.0.0.0', '127.0.0.1');
}

async function listeningUrls(cli: CliProcess, timeoutMs = 15_000): Promise<{ url: string; adminUrl: string }> {
  const line = JSON.parse(await cli.waitForLine(/tollbooth is listening/, timeoutMs)) as { url: string; admin_url: string };
  return { url: loopback(line.url), adminUrl: loopback(line.admin_url) };
}

async function expectAdminSurfaceOnlyOnAdmin(url: string, adminUrl: string): Promise<void> {
  for (const path of METRICS_PATHS) {
    const api = await fetch(`${url}${path}`);
    expect(api.status, `API ${path}`).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
    expect((await fetch(`${adminUrl}${path}`)).status, `admin ${path}`).toBe(200);
  }
  expect(await (await fetch(`${adminUrl}/metrics`)).text()).toMatch(/^tollbooth_build_info\{version="[^"]+"\} 1$/m);
  const ready = (await (await fetch(`${url}/ready`)).json()) as Record<string, unknown>;
  expect(Object.keys(ready)).toEqual(['status']);
  const details = (await (await fetch(`${adminUrl}/ready`)).json()) as { replicas: unknown[] };
  expect(details.replicas.length).toBeGreaterThan(0);
  expect((await fetch(`${url}/health`)).status).toBe(200);
  expect((await fetch(`${adminUrl}/health`)).status).toBe(200);
}

describe('the built CLI', () => {
  it('in the default configuration: the API on every interface, the admin listener on loopback, metrics only there', async () => {
    const simulator = await startSimulator({ models: ['test-model'] });
    cleanups.push(() => simulator.close());
    const keys = JSON.stringify([{ id: 'ops', hash: hashApiKey(generateApiKey()) }]);
    const cli = runCli(['start'], { ...FREE_PORTS, TOLLBOOTH_REPLICAS: `${simulator.url}=test-model`, TOLLBOOTH_AUTH_KEYS: keys });
    running.push(cli);
    const { url, adminUrl } = await listeningUrls(cli);
    await expectAdminSurfaceOnlyOnAdmin(url, adminUrl);
    // 127.0.0.2 reaches a socket bound to 0.0.0.0 but not one bound to 127.0.0.1: the bind addresses themselves.
    const elsewhere = (base: string): string => base.replace('127.0.0.1', '127.0.0.2');
    expect((await fetch(`${elsewhere(url)}/health`)).status).toBe(200);
    await expect(fetch(`${elsewhere(adminUrl)}/health`)).rejects.toThrow();
    cli.child.kill('SIGTERM');
    expect((await cli.exited()).code).toBe(0);
  });

  it('with the demo configuration, and the demo banner names the admin URLs', async () => {
    const cli = runCli(['demo', '--config', 'config/demo.yaml'], { ...FREE_PORTS, TOLLBOOTH_DEMO_FREE_PORTS: '1' });
    running.push(cli);
    const { url, adminUrl } = await listeningUrls(cli);
    await cli.waitForLine(/Ctrl-C drains and stops/);
    expect(cli.stdout()).toContain(`curl -s ${adminUrl}/metrics`);
    expect(cli.stdout()).toContain(`curl -s ${adminUrl}/api/v1/metrics`);
    expect(cli.stdout()).not.toContain(`${url}/metrics`);
    expect(cli.stdout()).toContain(`dashboard   ${adminUrl}/dashboard`);
    expect(cli.stdout()).toContain(`watch       node dist/src/cli/tollbooth.js top --url ${adminUrl}`);
    await expectAdminSurfaceOnlyOnAdmin(url, adminUrl);
    // The built process finds the page's files (copied beside the build) and uPlot.
    for (const path of ['/dashboard', '/dashboard/dashboard.js', '/dashboard/dashboard.css', '/dashboard/uplot.min.js']) {
      expect((await fetch(`${adminUrl}${path}`)).status, path).toBe(200);
    }
    expect((await fetch(`${url}/dashboard`)).status).not.toBe(200);
  });

  it('check-config refuses the API port for the admin listener, and warns when the metrics are served nowhere', async () => {
    const base = { TOLLBOOTH_REPLICAS: 'http://127.0.0.1:8000=m', TOLLBOOTH_AUTH_ENABLED: 'false' };
    const clash = runCli(['check-config'], { ...base, TOLLBOOTH_PORT: '8200', TOLLBOOTH_ADMIN_PORT: '8200' });
    expect((await clash.exited()).code).toBe(2);
    expect(clash.stderr()).toContain('  - admin.port: the admin listener cannot share the API port 8200');

    const quiet = runCli(['check-config'], base);
    expect((await quiet.exited()).code).toBe(0);
    expect(quiet.stderr()).toBe('');

    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-admin-')), 'tollbooth.yaml');
    writeFileSync(file, 'admin:\n  enabled: false\n');
    const nowhere = runCli(['check-config', '--config', file], base);
    expect((await nowhere.exited()).code).toBe(0);
    expect(nowhere.stderr()).toMatch(/^warning: admin\.enabled is false and no metrics credentials are set: \/metrics and \/api\/v1\/metrics are served nowhere/);
  });
});
