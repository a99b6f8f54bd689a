import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { promtoolCheckMetrics } from '../../helpers/promtool.js';

/**
 * The admin surface (Prometheus exposition, JSON statistics, readiness details) lives on the admin
 * listener; the API port, which faces clients, serves it only behind the metrics credentials.
 */
const teardown = teardownAfterEach();
const TOKEN = 'scrape-token-0123456789';
const BASIC = `Basic ${Buffer.from('prometheus:scrape-me-please').toString('base64')}`;
const METRICS_PATHS = ['/metrics', '/metrics/prometheus', '/api/v1/metrics'];

async function errorCodeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe('the default configuration', () => {
  it('answers 404 unknown_url for the metrics paths on the API port, and /ready there without replica details', async () => {
    const { gateway } = await teardown.fleet({ replicas: 2 });
    await postJson(`${gateway.url}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 2 });
    for (const path of METRICS_PATHS) {
      const response = await fetch(`${gateway.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(await errorCodeOf(response)).toBe('unknown_url');
    }
    const ready = await fetch(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
  });

  it('serves the metrics, the statistics and the readiness details on the admin listener', async () => {
    const { gateway } = await teardown.fleet({ replicas: 2 });
    expect(new URL(gateway.adminUrl!).port).not.toBe(new URL(gateway.url).port);
    await postJson(`${gateway.url}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 2 }, { 'x-request-id': 'counted' });
    await gateway.accessLineOf('counted');

    const exposition = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(exposition).toMatch(/tollbooth_requests_total\{[^}]*route="\/v1\/completions"[^}]*\} 1/);
    const alias = await fetch(`${gateway.adminUrl}/metrics/prometheus`);
    expect(alias.status).toBe(200);
    expect(alias.headers.get('content-type')).toMatch(/^text\/plain/);
    const aliasText = await alias.text();
    expect(aliasText).toMatch(/tollbooth_requests_total\{[^}]*route="\/v1\/completions"[^}]*\} 1/);
    const check = await promtoolCheckMetrics(aliasText);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);

    const statistics = (await (await fetch(`${gateway.adminUrl}/api/v1/metrics`)).json()) as { since_start: { overall: { requests: { total: number } } } };
    expect(statistics.since_start.overall.requests.total).toBeGreaterThanOrEqual(1);
    const ready = await fetch(`${gateway.adminUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', replicas: [{ name: 'sim-0', health: 'healthy' }, { name: 'sim-1', health: 'healthy' }] });
    expect(await (await fetch(`${gateway.adminUrl}/health`)).json()).toEqual({ status: 'ok' });

    // The admin listener serves the admin surface only: no proxying from it.
    const proxied = await postJson(`${gateway.adminUrl}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 2 });
    expect(proxied.status).toBe(404);
  });

  it('says not_ready on both ports when no replica is healthy, with the details on the admin listener only', async () => {
    const { gateway, simulators } = await teardown.fleet({ replicas: 1 });
    await simulators[0]!.close();
    await gateway.gateway.monitor.probeAll();
    const api = await fetch(`${gateway.url}/ready`);
    expect(api.status).toBe(503);
    expect(await api.json()).toEqual({ status: 'not_ready' });
    const admin = await fetch(`${gateway.adminUrl}/ready`);
    expect(admin.status).toBe(503);
    expect(await admin.json()).toMatchObject({ status: 'not_ready', replicas: [{ name: 'sim-0', health: 'unhealthy', last_error: expect.any(String) }] });
  });
});

describe('with metrics credentials', () => {
  it('serves the metrics on the API port only with the right credentials, and asks for them on the admin listener too', async () => {
    const { gateway } = await teardown.fleet({
      gateway: { metrics: { bearerToken: TOKEN, basicAuth: { username: 'prometheus', password: 'scrape-me-please' } } },
    });
    for (const base of [gateway.url, gateway.adminUrl!]) {
      for (const path of METRICS_PATHS) {
        const anonymous = await fetch(`${base}${path}`);
        expect(anonymous.status, `${base}${path}`).toBe(401);
        expect(await errorCodeOf(anonymous)).toBe('metrics_unauthorized');
        expect((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
        expect((await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, `${base}${path}`).toBe(200);
        expect((await fetch(`${base}${path}`, { headers: { authorization: BASIC } })).status).toBe(200);
      }
    }
    expect(await (await fetch(`${gateway.url}/ready`)).json()).toEqual({ status: 'ready' });
  });
});

describe('with the admin listener disabled', () => {
  it('serves the metrics nowhere without credentials, and says so at boot', async () => {
    const { gateway } = await teardown.fleet({ gateway: { admin: { enabled: false } } });
    expect(gateway.adminUrl).toBeUndefined();
    expect(gateway.gateway.admin).toBeUndefined();
    for (const path of METRICS_PATHS) expect((await fetch(`${gateway.url}${path}`)).status).toBe(404);
    expect(gateway.logs.filter((line) => line.level === 'warn' && /served nowhere/.test(String(line.msg)))).toHaveLength(1);
    expect(gateway.logs.find((line) => line.msg === 'tollbooth is listening')).toMatchObject({ admin_url: null });
  });

  it('serves them on the API port with credentials', async () => {
    const { gateway } = await teardown.fleet({ gateway: { admin: { enabled: false }, metrics: { bearerToken: TOKEN } } });
    expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(401);
    expect(gateway.logs.some((line) => /served nowhere/.test(String(line.msg)))).toBe(false);
  });
});

describe('shutdown', () => {
  it('keeps the admin listener scrapable while the API drains, and closes it last', async () => {
    // A finished stream's keep-alive connection holds the API's close until the drain deadline: keep it short.
    const { gateway } = await teardown.fleet({ simulator: { interTokenMs: 20, prefillBaseMs: 1 }, gateway: { server: { drainTimeoutMs: 2_000 } } });
    const stream = postJson(
      `${gateway.url}/v1/chat/completions`,
      { model: 'test-model', messages: [{ role: 'user', content: 'x' }], max_tokens: 30, stream: true },
      { 'x-sim-tokens': '30' },
    );
    // Let the stream get going before the drain starts.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const shutdown = gateway.shutdown('test drain');
    const duringDrain = await fetch(`${gateway.adminUrl}/metrics`);
    expect(duringDrain.status).toBe(200);
    expect(await duringDrain.text()).toMatch(/tollbooth_replica_in_flight_requests\{replica="sim-0"\} 1/);
    expect((await stream).status).toBe(200);
    expect((await fetch(`${gateway.adminUrl}/api/v1/metrics`)).status).toBe(200);
    await shutdown;
    await expect(fetch(`${gateway.adminUrl}/metrics`)).rejects.toThrow();
  });
});

describe('startup and shutdown edge cases', () => {
  it('fails to start, with the cause, when the admin port is taken', async () => {
    const { startTestGateway } = await import('../../helpers/gateway.js');
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    teardown.defer(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as AddressInfo).port;
    await expect(startTestGateway({ replicas: [{ url: 'http://127.0.0.1:9', models: ['m'] }], admin: { port } })).rejects.toThrow(/EADDRINUSE/);
  });

  it('is not held open by a client that never finishes its admin request', async () => {
    const { gateway } = await teardown.fleet({});
    const { port } = new URL(gateway.adminUrl!);
    const socket = connect(Number(port), '127.0.0.1');
    // The gateway cuts the connection: a reset here is the expected end.
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write('GET /metrics HTTP/1.1\r\nHost: admin\r\n');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await gateway.shutdown('test over');
    await closed;
  });
});
