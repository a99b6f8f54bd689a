import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAlertmanager } from '../../helpers/alertmanager.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import type { MetricsApiResponse } from '../../../src/telemetry/stats/snapshot.js';

/**
 * The built-in alerts end to end: the simulator's fault injection drives each of the reference's
 * three alerts (durations shortened by config) pending → firing → resolved, seen in the admin
 * listener's /api/v1/metrics and /metrics, in the log, and pushed to a webhook and a real Alertmanager.
 */
const { defer, fleet: startFleet } = teardownAfterEach();
const MODEL = 'test-model';

async function json(adminUrl: string): Promise<MetricsApiResponse> {
  return (await (await fetch(`${adminUrl}/api/v1/metrics`)).json()) as MetricsApiResponse;
}

async function firingSeries(adminUrl: string): Promise<string[]> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith('tollbooth_alerts_firing{'));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function chat(url: string, options: { stream?: boolean; maxTokens?: number; headers?: Record<string, string> } = {}) {
  return postJson(`${url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: options.maxTokens ?? 1, stream: options.stream ?? false }, options.headers);
}

async function inBatches(count: number, batch: number, send: () => Promise<unknown>): Promise<void> {
  for (let done = 0; done < count; done += batch) await Promise.all(Array.from({ length: Math.min(batch, count - done) }, send));
}

function transitionsOf(logs: ReadonlyArray<Record<string, unknown>>, alert: string): unknown[] {
  return logs.filter((line) => line.component === 'alerts' && line.alert === alert).map((line) => line.to);
}

async function webhookSink(): Promise<{ url: string; bodies: Array<{ source: string; alerts: Array<Record<string, any>> }>; server: Server }> {
  const bodies: Array<{ source: string; alerts: Array<Record<string, any>> }> = [];
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => {
      bodies.push(JSON.parse(text) as (typeof bodies)[number]);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, server };
}

describe('built-in alerts under injected faults', () => {
  it('ErrorRateTooHigh: error:500 makes it fire (critical, in the JSON, /metrics, the log, a webhook and Alertmanager); successes resolve it', async () => {
    const sink = await webhookSink();
    defer(() => new Promise((resolve) => sink.server.close(resolve)));
    const alertmanager = await startAlertmanager({ route: { receiver: 'null' }, receivers: [{ name: 'null' }] });
    defer(() => alertmanager.stop());
    const { gateway } = await startFleet({
      gateway: {
        health: { ejectAfterFailures: 1000 },
        alerts: {
          evaluationIntervalMs: 100,
          rules: [{ name: 'ErrorRateTooHigh', figure: 'requests.error_rate_percent', threshold: 10, forMs: 500, severity: 'critical', summary: 'Error rate (%)' }],
          push: { webhookUrl: sink.url, alertmanagerUrl: alertmanager.url, resendIntervalMs: 1_000 },
        },
      },
    });
    const admin = gateway.adminUrl!;
    expect(await json(admin)).toMatchObject({ status: 'ok', alerts: [], alerts_count: 0 });

    for (let i = 0; i < 5; i += 1) expect((await chat(gateway.url, { headers: { 'x-sim-fault': 'error:500' } })).status).toBe(500);
    await waitFor('pending', async () => transitionsOf(gateway.logs, 'ErrorRateTooHigh').includes('pending'));
    expect((await json(admin)).alerts_count).toBe(0);
    const firing = await waitFor('firing in the JSON', async () => {
      const body = await json(admin);
      return body.alerts_count === 1 ? body : undefined;
    });
    expect(firing.status).toBe('critical');
    expect(firing.alerts[0]).toMatchObject({ name: 'ErrorRateTooHigh', severity: 'critical', scope: 'fleet', figure: 'requests.error_rate_percent', value: 100, threshold: 10 });
    expect(firing.alerts[0]!.message).toBe('Error rate (%): requests.error_rate_percent = 100 (> 10 for 0.5 s)');
    expect(Date.parse(firing.alerts[0]!.since)).toBeLessThanOrEqual(Date.now());
    expect(await firingSeries(admin)).toEqual(['tollbooth_alerts_firing{alertname="ErrorRateTooHigh",severity="critical",scope="fleet",model="",replica=""} 1']);
    // The reference's monitoring loop (unchanged) prints it (asynchronously: the gateway runs in this process).
    const { stdout: loop } = await promisify(execFile)('python3', [resolve('test/fixtures/monitor_loop.py')], {
      env: { ...process.env, METRICS_URL: `${admin}/api/v1/metrics`, MONITOR_ITERATIONS: '1' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(loop).toContain('Status: critical\n');
    expect(loop).toContain('Alerts: 1\n');
    expect(loop).toContain('  ALERT: Error rate (%): requests.error_rate_percent = 100 (> 10 for 0.5 s)\n');

    const pushed = await waitFor('the webhook push', async () => sink.bodies.flatMap((body) => body.alerts).find((alert) => alert.status === 'firing'));
    expect(pushed.labels).toEqual({ alertname: 'ErrorRateTooHigh', severity: 'critical', scope: 'fleet', source: 'tollbooth' });
    expect(pushed.annotations.summary).toContain('requests.error_rate_percent = 100');
    expect(Date.parse(pushed.endsAt)).toBeGreaterThan(Date.now());
    const held = await waitFor('the alert in Alertmanager', async () => (await alertmanager.alerts()).find((alert) => alert.labels.alertname === 'ErrorRateTooHigh'));
    expect(held).toMatchObject({ labels: { alertname: 'ErrorRateTooHigh', severity: 'critical', scope: 'fleet', source: 'tollbooth' }, status: { state: 'active' } });
    expect(held.startsAt).toBe(firing.alerts[0]!.since);
    // Re-sent while firing.
    await waitFor('a re-send', async () => sink.bodies.filter((body) => body.alerts.some((alert) => alert.status === 'firing')).length >= 2, 5_000);

    // 5 failures among 65 requests: 7.7 %, under the threshold.
    await inBatches(60, 10, async () => expect((await chat(gateway.url)).status).toBe(200));
    await waitFor('resolved in the JSON', async () => (await json(admin)).alerts_count === 0);
    expect(await json(admin)).toMatchObject({ status: 'ok', alerts: [] });
    expect(await firingSeries(admin)).toEqual([]);
    const resolved = await waitFor('the resolve push', async () => sink.bodies.flatMap((body) => body.alerts).find((alert) => alert.status === 'resolved'));
    expect(Date.parse(resolved.endsAt)).toBeLessThanOrEqual(Date.now());
    expect(resolved.startsAt).toBe(pushed.startsAt);
    await waitFor('resolved in Alertmanager', async () => !(await alertmanager.alerts()).some((alert) => alert.labels.alertname === 'ErrorRateTooHigh'));
    expect(transitionsOf(gateway.logs, 'ErrorRateTooHigh')).toEqual(['pending', 'firing', 'resolved']);
  }, 60_000);

  it('TTFTTooHigh: latency spikes make it fire; fast streams bring the p95 back and resolve it', async () => {
    const { gateway } = await startFleet({
      simulator: { interTokenMs: 0 },
      gateway: { alerts: { evaluationIntervalMs: 100, rules: [{ name: 'TTFTTooHigh', figure: 'slo.ttft.p95', threshold: 0.5, forMs: 500 }] } },
    });
    const admin = gateway.adminUrl!;
    await Promise.all(Array.from({ length: 4 }, () => chat(gateway.url, { stream: true, headers: { 'x-sim-fault': 'spike:1000' } })));
    const firing = await waitFor('firing', async () => {
      const body = await json(admin);
      return body.alerts_count === 1 ? body : undefined;
    });
    expect(firing).toMatchObject({ status: 'warning', alerts: [{ name: 'TTFTTooHigh', severity: 'warning', scope: 'fleet' }] });
    expect(firing.slo.ttft.p95).toBeGreaterThan(0.5);
    expect(await firingSeries(admin)).toEqual(['tollbooth_alerts_firing{alertname="TTFTTooHigh",severity="warning",scope="fleet",model="",replica=""} 1']);
    await inBatches(120, 20, async () => expect((await chat(gateway.url, { stream: true })).status).toBe(200));
    await waitFor('resolved', async () => (await json(admin)).alerts_count === 0);
    expect((await json(admin)).slo.ttft.p95).toBeLessThan(0.5);
    expect(await firingSeries(admin)).toEqual([]);
    expect(transitionsOf(gateway.logs, 'TTFTTooHigh')).toEqual(['pending', 'firing', 'resolved']);
  }, 60_000);

  it('QueueTooLong: a queue built on a replica running one sequence at a time fires it, per fleet and per replica; it resolves once drained', async () => {
    const { gateway } = await startFleet({
      simulator: { maxRunning: 1, interTokenMs: 40 },
      gateway: {
        health: { engineStatsIntervalMs: 100 },
        alerts: {
          evaluationIntervalMs: 100,
          rules: [
            { name: 'QueueTooLong', figure: 'requests.waiting', threshold: 2, forMs: 500 },
            { name: 'ReplicaQueue', figure: 'requests.waiting', threshold: 2, forMs: 500, scope: 'replica' },
          ],
        },
      },
    });
    const admin = gateway.adminUrl!;
    const load = Promise.all(Array.from({ length: 7 }, () => chat(gateway.url, { stream: true, maxTokens: 20 })));
    const firing = await waitFor('firing', async () => {
      const body = await json(admin);
      return body.alerts_count === 2 ? body : undefined;
    });
    expect(firing.status).toBe('warning');
    expect(firing.alerts.map((alert) => [alert.name, alert.scope, alert.replica])).toEqual([
      ['QueueTooLong', 'fleet', undefined],
      ['ReplicaQueue', 'replica', 'sim-0'],
    ]);
    expect(firing.alerts[1]!.message).toMatch(/^ReplicaQueue: requests\.waiting = \d+ \(> 2 for 0\.5 s\) on replica sim-0$/);
    expect(await firingSeries(admin)).toEqual([
      'tollbooth_alerts_firing{alertname="QueueTooLong",severity="warning",scope="fleet",model="",replica=""} 1',
      'tollbooth_alerts_firing{alertname="ReplicaQueue",severity="warning",scope="replica",model="",replica="sim-0"} 1',
    ]);
    for (const response of await load) expect(response.status).toBe(200);
    await waitFor('resolved', async () => (await json(admin)).alerts_count === 0);
    expect(await firingSeries(admin)).toEqual([]);
    expect(transitionsOf(gateway.logs, 'QueueTooLong')).toEqual(['pending', 'firing', 'resolved']);
  }, 60_000);
});
