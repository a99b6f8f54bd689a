import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { DEFAULT_MONITORING_CONFIG, type MonitoringConfig } from '../../../src/monitoring/config.js';
import { DASHBOARDS_DIR } from '../../../src/monitoring/dashboards.js';
import { useSpanPipeline } from '../../../src/telemetry/tracing/span-pipeline.js';
import { startFleet, type TestFleet } from '../../helpers/fleet.js';
import { dashboardPanels, interpolate, type DashboardJson } from '../../helpers/grafana-dashboards.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { inMemoryTracing } from '../../unit/tracing/in-memory-tracing.js';
import { allTargetsUp, startGeneratedPrometheus, type ExemplarSeries, type PrometheusServer } from '../telemetry/prometheus-server.js';

/**
 * Grafana cannot run here (its licence), so the dashboards are proven through what Grafana would
 * ask: a real Prometheus (Debian's, exemplar storage on) with a test copy of the generated scrape
 * config and rules (1 s intervals, targets on this test's ports) scrapes a real gateway and two
 * simulated vLLM replicas while the official SDK drives streams and non-streams for two models, two
 * tenants, sessions, and a key over its budget. Then every target of every panel of every committed
 * dashboard is run through Prometheus's HTTP API over the test's window, with the template
 * variables substituted, and must answer data without an error.
 */

const ROOT = join(import.meta.dirname, '../../..');
const MODELS = ['model-a', 'model-b'];
const SCRAPE_SECONDS = 1;
/** Grafana's $__rate_interval: max(step + scrape interval, 4 × scrape interval); the step is 1 s here. */
const RATE_INTERVAL = `${4 * SCRAPE_SECONDS}s`;

/**
 * Targets that legitimately answer nothing in this test, each with why. Keyed by dashboard title,
 * panel title and refId; the test also fails when one of them does answer data (then it belongs
 * out of this list).
 */
const EXPECTED_EMPTY: ReadonlyMap<string, string> = new Map();

/** The template variable values tried: All (Grafana sends allValue `.*`), and one model and replica. */
const VARIABLE_SETS: ReadonlyArray<Readonly<Record<string, string>>> = [
  { model: '.*', replica: '.*', datasource: 'prometheus' },
  { model: 'model-a', replica: 'sim-0', datasource: 'prometheus' },
];

let redis: RedisServer;
let fleet: TestFleet;
let prometheus: PrometheusServer;
let windowStart: number;
let windowEnd: number;
const tracing = inMemoryTracing();

function issue(id: string, tenant: string, budget?: { daily: number }) {
  const secret = generateApiKey();
  return { secret, stored: { id, tenant, hash: hashApiKey(secret), ...(budget === undefined ? {} : { budget }) } };
}
const acme = issue('acme-key', 'acme');
const globex = issue('globex-key', 'globex');
// One request costs about 0.00004 USD at the prices below: the second one finds the budget spent.
const broke = issue('broke-key', 'globex', { daily: 0.000001 });

const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms));

function testMonitoringConfig(): MonitoringConfig {
  if (fleet.gateway.adminUrl === undefined) throw new Error('the gateway has no admin listener: /metrics is served there');
  const adminUrl = fleet.gateway.adminUrl;
  return {
    ...DEFAULT_MONITORING_CONFIG,
    tollbooth: { ...DEFAULT_MONITORING_CONFIG.tollbooth, targets: [new URL(adminUrl).host] },
    vllm: { ...DEFAULT_MONITORING_CONFIG.vllm, targets: fleet.simulators.map((simulator) => new URL(simulator.url).host) },
    alertmanagers: [],
    scrapeInterval: `${SCRAPE_SECONDS}s`,
    evaluationInterval: `${SCRAPE_SECONDS}s`,
  };
}

/** Streams and non-streams for both models, both tenants, with sessions; traced (the in-memory pipeline samples all). */
/**
 * Redis away for a moment while a request is admitted: the limits fail open to local buckets and
 * the store's errors and degraded flag have something to show, then Redis comes back.
 */
async function redisOutage(): Promise<void> {
  await redis.kill();
  const sdk = new OpenAI({ baseURL: `${fleet.gateway.url}/v1`, apiKey: acme.secret, maxRetries: 0 });
  for (let attempt = 0; attempt < 3; attempt++) {
    await sdk.chat.completions.create({ model: MODELS[0]!, messages: [{ role: 'user', content: 'while Redis is away' }], max_tokens: 4 });
  }
  await redis.restart();
}

async function driveTraffic(rounds: number): Promise<void> {
  const client = (key: { secret: string }) => new OpenAI({ baseURL: `${fleet.gateway.url}/v1`, apiKey: key.secret, maxRetries: 0 });
  const clients = [client(acme), client(globex)];
  const brokeClient = client(broke);
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      clients.flatMap((sdk, tenant) =>
        MODELS.map(async (model, index) => {
          const body = {
            model,
            // The same long system prompt every round: the session's replica serves it from its prefix cache.
            messages: [
              { role: 'system' as const, content: `You are assistant ${tenant}-${index}. `.repeat(40) },
              { role: 'user' as const, content: `question ${round}` },
            ],
            max_tokens: 8,
          };
          const headers = { 'x-session-id': `session-${tenant}-${index}`, 'x-sim-ttft-ms': String(20 + 40 * index) };
          const stream = await sdk.chat.completions.create({ ...body, stream: true }, { headers });
          for await (const chunk of stream) void chunk;
          await sdk.chat.completions.create(body, { headers });
        }),
      ),
    );
    // The over-budget key: admitted once, then refused (429, budget) on every round, at different scrapes.
    await brokeClient.chat.completions.create({ model: MODELS[0]!, messages: [{ role: 'user', content: 'one more?' }], max_tokens: 8 }).catch((error: unknown) => {
      if (!(error instanceof OpenAI.APIError) || error.status !== 429) throw error;
    });
    if (round === Math.floor(rounds / 2)) await ejectOneReplica(clients[0]!);
    await sleep(700);
  }
}

/**
 * Two 500s in a row from the replica one session is pinned to: its circuit opens (ejectAfterFailures
 * 2), so the Ejections, Circuit state and error panels show a fault, not only zeros. It comes back
 * after baseEjectionMs through its trial request.
 */
async function ejectOneReplica(sdk: OpenAI): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const failed = await sdk.chat.completions
      .create({ model: MODELS[0]!, messages: [{ role: 'user', content: 'fail, please' }], max_tokens: 4 }, { headers: { 'x-session-id': 'doomed', 'x-sim-fault': 'error:500' } })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failed instanceof OpenAI.APIError && failed.status === 500, String(failed)).toBe(true);
  }
}

async function waitForFiring(alertname: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await prometheus.api<{ result: unknown[] }>('/api/v1/query', { query: `ALERTS{alertstate="firing", alertname="${alertname}"}` });
    if (result.result.length > 0) return;
    if (Date.now() > deadline) throw new Error(`${alertname} did not fire:\n${prometheus.log().slice(-3000)}`);
    await sleep(300);
  }
}

async function committedDashboards(): Promise<DashboardJson[]> {
  const names = (await readdir(join(ROOT, DASHBOARDS_DIR))).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(join(ROOT, DASHBOARDS_DIR, name), 'utf8')) as DashboardJson));
}

beforeAll(async () => {
  useSpanPipeline(tracing.pipeline);
  redis = await startRedisServer();
  fleet = await startFleet({
    replicas: 2,
    models: MODELS,
    simulator: { interTokenMs: 3, prefillBaseMs: 2 },
    gateway: {
      auth: { keys: [acme.stored, globex.stored, broke.stored], tenants: ['acme', 'globex'] },
      // Budget figures read often enough to move within the test.
      rateLimits: { store: 'redis', budgetReport: { refreshIntervalMs: 500 } },
      redis: { url: redis.url, keyPrefix: 'dashboards:' },
      cost: { tokenPrices: Object.fromEntries(MODELS.map((model) => [model, { input: 1, output: 2 }])) },
      // Engine figures (queue, KV cache, prefix-cache hits) read often enough to change within the test;
      // health probes rare, since a passing probe closes a circuit at once and would hide the ejection.
      health: { probeIntervalMs: 30_000, engineStatsIntervalMs: 300, ejectAfterFailures: 2, baseEjectionMs: 3_000 },
    },
  });
  prometheus = await startGeneratedPrometheus(testMonitoringConfig());
  await allTargetsUp(prometheus, 3);
  windowStart = Date.now() / 1000;
  await driveTraffic(12);
  await waitForFiring('TollboothTenantBudgetExhausted');
  await redisOutage();
  // Two more scrapes and rule evaluations after the last request, so the window ends with its effects.
  await sleep(2_500 * SCRAPE_SECONDS);
  windowEnd = Date.now() / 1000;
}, 90_000);

afterAll(async () => {
  await prometheus?.stop();
  await fleet?.close();
  await redis?.stop();
  useSpanPipeline(undefined);
  await tracing.provider.shutdown();
});

describe('every dashboard panel through a real Prometheus', () => {
  it('answers every target of every panel with data and no error, for All and for one model and replica', async () => {
    const dashboards = await committedDashboards();
    expect(dashboards).toHaveLength(4);
    const empty: string[] = [];
    const failed: string[] = [];
    let queried = 0;
    for (const variables of VARIABLE_SETS) {
      for (const dashboard of dashboards) {
        for (const panel of dashboardPanels(dashboard)) {
          for (const target of panel.targets) {
            const name = `${dashboard.title} / ${panel.title} / ${target.refId}`;
            const query = interpolate(target.expr, variables, RATE_INTERVAL);
            expect(query, name).not.toContain('$');
            queried += 1;
            try {
              const data =
                target.instant === true
                  ? await prometheus.api<{ result: unknown[] }>('/api/v1/query', { query, time: String(windowEnd) })
                  : await prometheus.api<{ result: unknown[] }>('/api/v1/query_range', { query, start: String(windowStart), end: String(windowEnd), step: '1' });
              if (data.result.length === 0) empty.push(name);
            } catch (error) {
              failed.push(`${name}: ${(error as Error).message}\n  ${query}`);
            }
          }
        }
      }
    }
    expect(failed).toEqual([]);
    // Each expected-empty target is empty for every variable set, and nothing else is.
    expect([...new Set(empty)].sort(), `empty: ${empty.join('\n')}`).toEqual([...EXPECTED_EMPTY.keys()].sort());
    expect(queried).toBeGreaterThan(2 * 40);
  });

  /** The series a panel's first target answers over the window, each with its largest value. */
  async function panelSeries(dashboardUid: string, title: string): Promise<Array<{ labels: Record<string, string>; max: number }>> {
    const dashboard = (await committedDashboards()).find((candidate) => candidate.uid === dashboardUid)!;
    const panel = dashboardPanels(dashboard).find((candidate) => candidate.title === title)!;
    const query = interpolate(panel.targets[0]!.expr, VARIABLE_SETS[0]!, RATE_INTERVAL);
    if (panel.targets[0]!.instant === true) {
      const data = await prometheus.api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('/api/v1/query', { query, time: String(windowEnd) });
      return data.result.map((series) => ({ labels: series.metric, max: Number(series.value[1]) }));
    }
    const data = await prometheus.api<{ result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }>('/api/v1/query_range', {
      query,
      start: String(windowStart),
      end: String(windowEnd),
      step: '1',
    });
    return data.result.map((series) => ({ labels: series.metric, max: Math.max(...series.values.map(([, value]) => Number(value))) }));
  }

  it('shows the ejection the test caused: a non-zero Ejections panel and an open circuit', async () => {
    expect((await panelSeries('tollbooth-fleet', 'Ejections')).some((series) => series.max > 0)).toBe(true);
    expect((await panelSeries('tollbooth-fleet', 'Circuit state')).some((series) => series.labels.state === 'open')).toBe(true);
  });

  it('shows what the traffic did: both tenants, the budget refusals and figures, the alert they fire, session affinity', async () => {
    const tenants = new Set((await panelSeries('tollbooth-tenants', 'Tokens per second by tenant and model')).map((series) => series.labels.tenant));
    expect([...tenants].sort()).toEqual(['acme', 'globex']);
    const decisions = await panelSeries('tollbooth-tenants', 'Rate-limit decisions');
    expect(decisions.some((series) => series.labels.outcome === 'limited' && series.labels.limit === 'budget' && series.max > 0)).toBe(true);
    const firing = await panelSeries('tollbooth-overview', 'Firing alerts');
    expect(firing.map((series) => series.labels.alertname)).toContain('TollboothTenantBudgetExhausted');
    // The over-budget key is globex's only budgeted key: the tenant's budget is spent, and so is the key's.
    const spent = await panelSeries('tollbooth-tenants', 'Budget spent by tenant');
    expect(spent.find((series) => series.labels.tenant === 'globex' && series.labels.period === 'day')?.max).toBeGreaterThanOrEqual(1);
    const overBudget = await panelSeries('tollbooth-tenants', 'Keys near or over their budget');
    expect(overBudget.find((series) => series.labels.tenant === 'globex' && series.labels.period === 'day' && series.labels.ratio === '1')?.max).toBe(1);
    const affinity = await panelSeries('tollbooth-fleet', 'Session affinity ratio');
    expect(affinity.map((series) => series.labels.model).sort()).toEqual(MODELS);
    expect(Math.max(...affinity.map((series) => series.max))).toBeGreaterThan(0.5);
  });

  it('stores trace ids as exemplars of the TTFT histogram, for the query a panel sends', async () => {
    const overview = (await committedDashboards()).find((dashboard) => dashboard.uid === 'tollbooth-overview')!;
    const ttft = dashboardPanels(overview).find((panel) => panel.title === 'Time to first token')!;
    const p95 = ttft.targets.find((target) => target.legendFormat?.endsWith('p95'))!;
    expect(p95.exemplar).toBe(true);
    const series = await prometheus.api<ExemplarSeries[]>('/api/v1/query_exemplars', {
      query: interpolate(p95.expr, VARIABLE_SETS[0]!, RATE_INTERVAL),
      start: String(windowStart),
      end: String(windowEnd),
    });
    const traceIds = series.flatMap((entry) => entry.exemplars.map((exemplar) => exemplar.labels.trace_id));
    expect(traceIds.length).toBeGreaterThan(0);
    const exported = new Set(tracing.exporter.getFinishedSpans().map((span) => span.spanContext().traceId));
    for (const traceId of traceIds) {
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      // Each one names a trace the gateway really recorded: the link Grafana follows to Jaeger.
      expect(exported).toContain(traceId);
    }
    expect(series.every((entry) => entry.seriesLabels.__name__ === 'tollbooth_time_to_first_token_seconds_bucket')).toBe(true);
  });
});
