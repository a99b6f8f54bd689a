import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MONITORING_CONFIG, type MonitoringConfig } from '../../../src/monitoring/config.js';
import { startSimulatorProcess, type SimulatorProcess } from '../../helpers/processes.js';
import { freePort } from '../../helpers/free-ports.js';
import { sampleSum } from '../../helpers/promtool.js';
import { startTracedGateway, type TracedGateway } from '../../e2e/tracing/traced-gateway.js';
import { allTargetsUp, startGeneratedPrometheus, type PrometheusServer } from '../telemetry/prometheus-server.js';

/**
 * The trace-export alert against a real export failure: the built gateway traces every request
 * over OTLP to a loopback port nobody listens on, so the SDK's batch processor fails every
 * export. Its counter `tollbooth_trace_export_spans_total{outcome="failed"}` must move while
 * requests keep succeeding, and the real Prometheus, with the rules the mixin generates (shipped
 * threshold, `for` shortened to 1 s, 1 s scrapes and evaluations), must fire
 * TollboothTraceExportFailing for that gateway.
 */

let sim: SimulatorProcess;
let gateway: TracedGateway;
let adminUrl: string;
let prometheus: PrometheusServer | undefined;

beforeAll(async () => {
  sim = await startSimulatorProcess({ models: ['llama-3-8b'], prefillBaseMs: 1, interTokenMs: 1 });
  gateway = await startTracedGateway(
    { replicas: [{ name: 'sim', url: sim.url, models: ['llama-3-8b'] }], tracing: { shutdownTimeoutMs: 1_000 } },
    // A free loopback port: nobody listens there.
    { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, OTEL_EXPORTER_OTLP_TIMEOUT: '300', OTEL_BSP_SCHEDULE_DELAY: '50' },
  );
  const listening = gateway.logLines().find((line) => line.msg === 'tollbooth is listening');
  adminUrl = String(listening?.admin_url);
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await gateway?.stop();
  await sim?.stop();
});

async function chat(index: number): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llama-3-8b', stream: index % 2 === 0, max_tokens: 4, messages: [{ role: 'user', content: `hello ${index}` }] }),
  });
  await response.text();
  return response.status;
}

async function exportedSpans(): Promise<{ exported: number; failed: number; dropped: number }> {
  const exposition = await (await fetch(`${adminUrl}/metrics`)).text();
  const outcome = (name: string) => sampleSum(exposition, 'tollbooth_trace_export_spans_total', { outcome: name });
  return { exported: outcome('exported'), failed: outcome('failed'), dropped: outcome('dropped') };
}

describe('a trace collector that is down', () => {
  it('moves the failed-spans counter, never a request', async () => {
    const statuses = await Promise.all(Array.from({ length: 10 }, (_, index) => chat(index)));
    expect(statuses.every((status) => status === 200)).toBe(true);
    const deadline = Date.now() + 20_000;
    let counts = await exportedSpans();
    while (counts.failed < 20 && Date.now() < deadline) {
      await new Promise((wake) => setTimeout(wake, 100));
      counts = await exportedSpans();
    }
    // Every request's SERVER and attempt spans failed to export; none was exported.
    expect(counts.failed).toBeGreaterThanOrEqual(20);
    expect(counts.exported).toBe(0);
  }, 30_000);

  it('fires TollboothTraceExportFailing in Prometheus with the generated rules', async () => {
    const shipped = DEFAULT_MONITORING_CONFIG;
    const config: MonitoringConfig = {
      ...shipped,
      tollbooth: { ...shipped.tollbooth, targets: [new URL(adminUrl).host] },
      vllm: { ...shipped.vllm, targets: [] },
      alertmanagers: [],
      scrapeInterval: '1s',
      evaluationInterval: '1s',
      thresholds: { ...shipped.thresholds, traceExportFailedRatio: { ...shipped.thresholds.traceExportFailedRatio, for: '1s' } },
    };
    prometheus = await startGeneratedPrometheus(config);
    await allTargetsUp(prometheus, 1);
    const deadline = Date.now() + 60_000;
    let firing: { labels: Record<string, string>; annotations: Record<string, string> } | undefined;
    for (let round = 0; firing === undefined; round += 1) {
      if (Date.now() > deadline) throw new Error(`TollboothTraceExportFailing did not fire\n${prometheus.log().slice(-1500)}`);
      // Traffic keeps failing exports between scrapes, so the 5 m rate has an increase to read.
      expect(await chat(round)).toBe(200);
      await new Promise((wake) => setTimeout(wake, 300));
      const { alerts } = await prometheus.api<{ alerts: Array<{ state: string; labels: Record<string, string>; annotations: Record<string, string> }> }>('/api/v1/alerts');
      firing = alerts.find((alert) => alert.labels.alertname === 'TollboothTraceExportFailing' && alert.state === 'firing');
    }
    expect(firing.labels).toMatchObject({ severity: 'warning', instance: new URL(adminUrl).host });
    expect(firing.annotations.description).toMatch(/^100% of the spans of .* failed to export/);
  }, 90_000);
});
