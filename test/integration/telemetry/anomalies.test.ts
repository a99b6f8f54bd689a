import { describe, expect, it } from 'vitest';
import type { AnomaliesApiResponse } from '../../../src/analytics/anomaly/report.js';
import { startSimulator } from '../../../src/sim/index.js';
import type { MetricsApiResponse } from '../../../src/telemetry/stats/snapshot.js';
import { teardownAfterEach } from '../../helpers/fleet.js';
import { promtoolCheckMetrics } from '../../helpers/promtool.js';

/**
 * Anomaly detection end to end: a gateway in front of three simulated replicas under steady
 * streaming load; one replica is restarted slow (longer prefill, one sequence at a time, so its
 * engine queue grows). The detectors judge 1-second statistics slots, so the whole story takes
 * seconds: the replica's TTFT and queue findings appear in GET /api/v1/anomalies as one incident,
 * in tollbooth_anomaly_active, and as a built-in alert in /api/v1/metrics.
 */
const { defer, fleet: startFleet } = teardownAfterEach();
const MODEL = 'test-model';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Streams chat completions from `workers` concurrent loops until stopped; failures are counted, not thrown. */
function steadyLoad(url: string, workers: number): { stop(): Promise<void>; sent(): number } {
  let running = true;
  let sent = 0;
  const loop = async (): Promise<void> => {
    while (running) {
      sent += 1;
      try {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 4, stream: true }),
        });
        await response.text();
      } catch {
        // A replica restarting drops a connection now and then; the load goes on.
      }
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  };
  const loops = Array.from({ length: workers }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
    sent: () => sent,
  };
}

describe('anomaly detection', () => {
  it('finds the replica that went slow: TTFT and queue as one incident, in the JSON, the gauge and the alerts', async () => {
    const fleet = await startFleet({
      replicas: 3,
      models: [MODEL],
      simulator: { prefillBaseMs: 5, interTokenMs: 2 },
      gateway: {
        routing: { strategy: 'round-robin' },
        health: { probeIntervalMs: 200, engineStatsIntervalMs: 200 },
        metrics: { windowMs: 60_000, slotMs: 1_000 },
        alerts: { evaluationIntervalMs: 250 },
        analytics: { anomaly: { warmupSlots: 8, minSamples: 3, sampleIntervalMs: 200, clearSlots: 30, seasonal: { enabled: false } } },
      },
    });
    const adminUrl = fleet.gateway.adminUrl!;
    const load = steadyLoad(fleet.gateway.url, 6);
    defer(() => load.stop());

    // Warm-up: every series of the three replicas and the model tracked, then a few more seconds
    // so the 8-slot warm-up is over and the calm fleet has been judged.
    const warm = await waitFor(
      'every series tracked and judged up to the last second',
      async () => {
        const report = (await (await fetch(`${adminUrl}/api/v1/anomalies`)).json()) as AnomaliesApiResponse;
        return report.judged_until !== null && Date.parse(report.judged_until) >= Date.now() - 1_500 && report.tracked.series >= 24 && load.sent() > 150 ? report : undefined;
      },
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const calm = (await (await fetch(`${adminUrl}/api/v1/anomalies`)).json()) as AnomaliesApiResponse;
    expect(warm.detector).toBe('cusum');
    expect(calm.active.filter((finding) => finding.scope === 'replica' && ['ttft_p95', 'engine_queue'].includes(finding.signal))).toEqual([]);

    // sim-1 goes bad: restarted on its port with a 300 ms prefill and room for one sequence at a time.
    const slowPort = fleet.simulators[1]!.port;
    await fleet.simulators[1]!.close();
    const slow = await startSimulator({ port: slowPort, seed: 7, models: [MODEL], prefillBaseMs: 300, interTokenMs: 2, maxRunning: 1 });
    defer(() => slow.close());
    const wentBadAt = Date.now();

    const report = await waitFor(
      'a TTFT and a queue finding on sim-1',
      async () => {
        const body = (await (await fetch(`${adminUrl}/api/v1/anomalies`)).json()) as AnomaliesApiResponse;
        const mine = body.active.filter((finding) => finding.scope === 'replica' && finding.name === 'sim-1');
        const signals = new Set(mine.map((finding) => finding.signal));
        return signals.has('ttft_p95') && signals.has('engine_queue') ? body : undefined;
      },
      30_000,
    );
    const ttft = report.active.find((finding) => finding.name === 'sim-1' && finding.signal === 'ttft_p95')!;
    const queue = report.active.find((finding) => finding.name === 'sim-1' && finding.signal === 'engine_queue')!;
    expect(ttft).toMatchObject({ scope: 'replica', direction: 'up', severity: 'warning', unit: 'seconds' });
    expect(ttft.value).toBeGreaterThan(0.3);
    expect(ttft.ratio!).toBeGreaterThan(3);
    // How far in σ of the replica's own slot-to-slot noise (a p95 of a few requests per 1 s slot is noisy).
    expect(ttft.sigma).toBeGreaterThan(1);
    expect(ttft.peak_sigma).toBeGreaterThanOrEqual(ttft.sigma);
    expect(Date.parse(ttft.since)).toBeGreaterThanOrEqual(wentBadAt - 2_000);
    expect(queue).toMatchObject({ direction: 'up', severity: 'warning', unit: 'requests' });
    // One incident: the queue finding is related to the TTFT finding.
    expect(ttft.incident).not.toBeNull();
    expect(queue.incident).toBe(ttft.incident);
    expect(ttft.related.map((other) => other.id)).toContain(queue.id);
    // The healthy replicas have no latency or queue finding.
    expect(report.active.filter((finding) => finding.scope === 'replica' && finding.name !== 'sim-1' && ['ttft_p95', 'engine_queue'].includes(finding.signal))).toEqual([]);

    const exposition = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(exposition).toContain('tollbooth_anomaly_active{signal="ttft_p95",scope="sim-1"} 1');
    expect(exposition).toContain('tollbooth_anomaly_active{signal="engine_queue",scope="sim-1"} 1');
    expect(exposition).toContain('tollbooth_anomaly_active{signal="ttft_p95",scope="sim-0"} 0');
    expect(await promtoolCheckMetrics(exposition)).toEqual({ code: 0, output: '' });

    const alert = await waitFor(
      'the TtftP95Anomaly alert on sim-1',
      async () => {
        const metrics = (await (await fetch(`${adminUrl}/api/v1/metrics`)).json()) as MetricsApiResponse;
        return metrics.alerts.find((candidate) => candidate.name === 'TtftP95Anomaly' && candidate.replica === 'sim-1');
      },
      10_000,
    );
    expect(alert).toMatchObject({ severity: 'warning', scope: 'replica' });
    expect(fleet.gateway.logs.some((line) => line.component === 'anomaly' && line.signal === 'ttft_p95' && line.replica === 'sim-1')).toBe(true);
  }, 120_000);

  it('answers GET /api/v1/anomalies only with the metrics credentials when they are set', async () => {
    const fleet = await startFleet({ replicas: 1, models: [MODEL], gateway: { metrics: { bearerToken: 'a-long-enough-metrics-token' } } });
    const url = `${fleet.gateway.adminUrl!}/api/v1/anomalies`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('metrics_unauthorized');
    const allowed = await fetch(url, { headers: { authorization: 'Bearer a-long-enough-metrics-token' } });
    expect(allowed.status).toBe(200);
    const body = (await allowed.json()) as AnomaliesApiResponse;
    expect(body).toMatchObject({ detector: 'cusum', slot_seconds: 10, active: [], incidents: [] });
  });
});
