import { describe, expect, it } from 'vitest';
import type { CapacityReport } from '../../../src/analytics/capacity/capacity-report.js';
import { runCli } from '../../helpers/cli.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { drivePoissonLoad } from '../../helpers/poisson-load.js';
import { seededRandom } from '../../helpers/seeded-random.js';

/**
 * A gateway in front of two simulated replicas (4 sequences each) under Poisson load answers
 * GET /api/v1/capacity with figures that fit what was driven, and `tollbooth capacity` prints them.
 */
const teardown = teardownAfterEach();
const RATE = 16;
const DURATION_MS = 12_000;

describe('capacity planning on a live fleet', () => {
  it('reports λ near the driven rate, a utilisation in (0, 1) and at least one replica needed; the CLI prints the same', async () => {
    const { gateway } = await teardown.fleet({
      replicas: 2,
      simulator: { maxRunning: 4, interTokenMs: 5, prefillBaseMs: 15, prefillPerTokenMs: 0, outputTokens: { min: 16, max: 48 } },
      gateway: { analytics: { capacity: { models: { 'test-model': { maxNumSeqs: 4 } } } } },
    });
    const startedAt = performance.now();
    const load = await drivePoissonLoad({
      rate: RATE,
      durationMs: DURATION_MS,
      random: seededRandom(21),
      send: async () =>
        (await postJson(`${gateway.url}/v1/chat/completions`, { model: 'test-model', stream: false, messages: [{ role: 'user', content: 'hello' }] }))
          .status === 200,
    });
    expect(load.failed).toBe(0);
    const elapsedSeconds = (performance.now() - startedAt) / 1000;

    const response = await fetch(`${gateway.adminUrl}/api/v1/capacity`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as CapacityReport;
    const model = report.models['test-model']!;
    expect(report.source).toBe('gateway');
    expect(model.observed.requests).toBe(load.sent);
    // The window spans the gateway's life, a little longer than the load.
    const driven = load.sent / elapsedSeconds;
    expect(model.observed.arrival_rate).toBeGreaterThan(driven * 0.75);
    expect(model.observed.arrival_rate).toBeLessThan(driven * 1.1);
    expect(model.observed.replicas).toBe(2);
    expect(model.observed.concurrency_per_replica).toBe(4);
    expect(model.observed.concurrency_source).toBe('config');
    // Service ≈ 15 ms prefill + 15–47 gaps of 5 ms: well above 0.05 s, well below the latency's max.
    expect(model.estimated.service_time_seconds).toBeGreaterThan(0.05);
    expect(model.estimated.service_time_seconds).toBeLessThan(model.observed.latency_mean_seconds + 1e-6);
    expect(model.now.utilisation).toBeGreaterThan(0);
    expect(model.now.utilisation).toBeLessThan(1);
    expect(model.now.replicas).toBe(2);
    expect(model.required_replicas).toBeGreaterThanOrEqual(1);
    expect(model.headroom.max_arrival_rate).toBeGreaterThan(0);
    // One or two whole 10 s slots of history: too few points to forecast from (the forecast
    // itself is tested in test/unit/analytics/capacity/).
    expect(model.forecast).toBeNull();

    const cli = runCli(['capacity', '--gateway', gateway.adminUrl!]);
    expect((await cli.exited()).code).toBe(0);
    const printed = cli.stdout();
    expect(printed).toMatch(/target: P\(wait\) ≤ 5 %, TTFT p95 ≤ 1 s/);
    const observedRow = printed.split('\n').find((line) => line.startsWith('test-model') && line.includes('(config)'));
    expect(observedRow, printed).toBeDefined();
    // Columns: model, req/s, ca², service s, cs², prefill s, replicas, seqs/replica (source). The
    // CLI asked a moment later, over a slightly longer span: the rate is close, not equal.
    const cells = observedRow!.split(/\s{2,}/);
    expect(Number(cells[1])).toBeGreaterThan(model.observed.arrival_rate * 0.8);
    expect(Number(cells[1])).toBeLessThanOrEqual(model.observed.arrival_rate * 1.01);
    expect(cells[6]).toBe('2');
    expect(cells[7]).toBe('4 (config)');
    const planRow = printed.split('\n').find((line) => line.startsWith('test-model') && line.includes(' %') && !line.includes('(config)'));
    expect(planRow, printed).toContain(String(model.required_replicas));
    expect(planRow).toContain('no forecast');

    const json = runCli(['capacity', '--gateway', gateway.adminUrl!, '--json']);
    expect((await json.exited()).code).toBe(0);
    const printedReport = JSON.parse(json.stdout()) as CapacityReport;
    expect(printedReport.models['test-model']!.observed.requests).toBe(load.sent);
  }, 60_000);

  it('answers behind the metrics credentials like /api/v1/metrics', async () => {
    const token = 'capacity-token-0123456789';
    const { gateway } = await teardown.fleet({ replicas: 1, gateway: { metrics: { bearerToken: token } } });
    expect((await fetch(`${gateway.adminUrl}/api/v1/capacity`)).status).toBe(401);
    const allowed = await fetch(`${gateway.adminUrl}/api/v1/capacity`, { headers: { authorization: `Bearer ${token}` } });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as CapacityReport).models).toEqual({});
  });
});
