import { describe, expect, it } from 'vitest';
import type { CapacityReport } from '../../../src/analytics/capacity/capacity-report.js';
import { runCli } from '../../helpers/cli.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { drivePoissonLoad } from '../../helpers/poisson-load.js';
import { seededRandom } from '../../helpers/seeded-random.js';
import { startPrometheus } from '../telemetry/prometheus-server.js';

/**
 * `tollbooth capacity --prometheus`: a real Prometheus (Debian's package) scrapes a gateway in
 * front of two simulated replicas every second while Poisson load runs; the CLI reads the figures
 * and the request-rate history back through Prometheus's HTTP API.
 */
const teardown = teardownAfterEach();
const RATE = 12;
const DURATION_MS = 20_000;

describe('tollbooth capacity --prometheus', () => {
  it('reads λ, the latency, the replicas and a forecastable history from Prometheus', async () => {
    const { gateway } = await teardown.fleet({
      replicas: 2,
      simulator: { maxRunning: 4, interTokenMs: 5, prefillBaseMs: 15, prefillPerTokenMs: 0, outputTokens: { min: 16, max: 48 } },
    });
    const prometheus = await startPrometheus({ url: gateway.adminUrl! });
    teardown.defer(() => prometheus.stop());
    await prometheus.targetUp();

    const load = await drivePoissonLoad({
      rate: RATE,
      durationMs: DURATION_MS,
      random: seededRandom(33),
      send: async (index) =>
        (await postJson(`${gateway.url}/v1/chat/completions`, { model: 'test-model', seed: index, messages: [{ role: 'user', content: 'hi' }] }))
          .status === 200,
    });
    expect(load.failed).toBe(0);
    // Two more scrapes, so the last requests are in Prometheus.
    await new Promise((wake) => setTimeout(wake, 2_500));

    const cli = runCli(['capacity', '--prometheus', prometheus.url, '--window', '15s', '--range', '40s', '--step', '2s', '--json']);
    const exit = await cli.exited();
    expect(exit.code, cli.stderr()).toBe(0);
    const report = JSON.parse(cli.stdout()) as CapacityReport;
    expect(report.source).toBe('prometheus');
    const model = report.models['test-model']!;
    expect(model, cli.stdout()).toBeDefined();
    // rate() over the last 15 s (two of them after the load): the driven rate, give or take the
    // Poisson noise of ~150 requests and the idle tail.
    const driven = load.sent / (DURATION_MS / 1000);
    expect(model.observed.arrival_rate).toBeGreaterThan(driven * 0.6);
    expect(model.observed.arrival_rate).toBeLessThan(driven * 1.4);
    expect(model.observed.replicas).toBe(2);
    expect(model.observed.concurrency_source).toBe('default');
    expect(model.observed.latency_mean_seconds).toBeGreaterThan(0.05);
    expect(model.now.utilisation).toBeGreaterThan(0);
    expect(model.now.utilisation).toBeLessThan(1);
    expect(model.required_replicas).toBeGreaterThanOrEqual(1);
    expect(model.forecast).not.toBeNull();
    expect(model.forecast!.step_seconds).toBe(2);
    expect(model.forecast!.points).toBeGreaterThanOrEqual(6);

    const tables = runCli(['capacity', '--prometheus', prometheus.url, '--window', '15s', '--range', '40s', '--step', '2s']);
    expect((await tables.exited()).code, tables.stderr()).toBe(0);
    expect(tables.stdout()).toMatch(/^capacity \(prometheus, /);
    expect(tables.stdout().split('\n').filter((line) => line.startsWith('test-model'))).toHaveLength(2);
  }, 90_000);
});
