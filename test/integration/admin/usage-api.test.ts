import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { CounterUsageReport, PrometheusUsageReport } from '../../../src/admin/usage-report.js';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { runCli } from '../../helpers/cli.js';
import { teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { startPrometheus } from '../telemetry/prometheus-server.js';

/**
 * GET /api/v1/usage beyond the OpenAPI walk of keys-api.test.ts: two gateways sharing Redis
 * count every key's usage in the same counters (read per key and per tenant by either instance,
 * and by `tollbooth keys usage` from Redis directly), and a real Prometheus scraping one gateway
 * answers the per-tenant, per-model variant.
 */

const MODEL = 'test-model';
const OPS_TOKEN = 'ops-token-0123456789abcdefghijklmnopqrstuv';
const teardown = teardownAfterEach();
let redis: RedisServer;
let simulator: RunningSimulator;

const KEYS = [
  { id: 'acme-web', tenant: 'acme', secret: generateApiKey() },
  { id: 'acme-batch', tenant: 'acme', secret: generateApiKey() },
  { id: 'globex-app', tenant: 'globex', secret: generateApiKey() },
];

beforeAll(async () => {
  redis = await startRedisServer();
  simulator = await startSimulator({ seed: 7, models: [MODEL], outputTokens: { min: 4, max: 4 }, prefillBaseMs: 0, interTokenMs: 0 });
});
afterAll(async () => {
  await simulator?.close();
  await redis?.stop();
});

async function gateway(prefix: string, overrides: Partial<TollboothConfigInput> = {}): Promise<TestGateway> {
  const started = await startTestGateway({
    replicas: [{ name: 'sim', url: simulator.url, models: [MODEL] }],
    auth: { enabled: true, tenants: ['acme', 'globex'], keys: KEYS.map(({ id, tenant, secret }) => ({ id, tenant, hash: hashApiKey(secret) })) },
    rateLimits: { store: 'redis' },
    redis: { url: redis.url, keyPrefix: prefix },
    cost: { tokenPrices: { [MODEL]: { input: 1, output: 2 } } },
    admin: { tokens: [{ id: 'ops', token: OPS_TOKEN }] },
    ...overrides,
  });
  teardown.defer(() => started.close());
  return started;
}

async function chat(base: TestGateway, secret: string): Promise<void> {
  const response = await fetch(`${base.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'hello there' }] }),
  });
  await response.arrayBuffer();
  expect(response.status).toBe(200);
}

async function usage<T>(base: TestGateway, query: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base.adminUrl}/api/v1/usage?${query}`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  return { status: response.status, body: (await response.json()) as T };
}

async function until(check: () => Promise<boolean>, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

/** Requests per key: acme-web 3 (two on the first instance), acme-batch 2, globex-app 1. */
async function traffic(first: TestGateway, second: TestGateway): Promise<void> {
  const [web, batch, app] = KEYS.map((key) => key.secret) as [string, string, string];
  for (const [base, secret] of [
    [first, web],
    [first, web],
    [second, web],
    [second, batch],
    [first, batch],
    [second, app],
  ] as const) {
    await chat(base, secret);
  }
}

describe('GET /api/v1/usage', () => {
  it('reports the shared counters per key and per tenant on every instance, as `tollbooth keys usage` reads them from Redis', async () => {
    const prefix = `u${Date.now().toString(36)}:`;
    const first = await gateway(prefix);
    const second = await gateway(prefix);
    await traffic(first, second);
    // Settled after each response ends: wait until the six requests are counted.
    await until(async () => (await usage<CounterUsageReport>(second, 'group=tenant')).body.data.reduce((sum, row) => sum + row.requests, 0) === 6, () => 'six counted requests');

    const byKey = (await usage<CounterUsageReport>(first, 'group=key')).body;
    expect(byKey.data.map((row) => ['key_id' in row ? row.key_id : '', row.tenant, row.requests, row.output_tokens])).toEqual([
      ['acme-batch', 'acme', 2, 8],
      ['acme-web', 'acme', 3, 12],
      ['globex-app', 'globex', 1, 4],
    ]);
    const inputPerRequest = byKey.data[2]!.input_tokens;
    expect(inputPerRequest).toBeGreaterThan(0);
    // input 1 and output 2 per million tokens, in nano-units: 1 000 and 2 000 per token.
    expect(byKey.data[2]!.cost).toBe(String((inputPerRequest * 1_000 + 4 * 2_000) / 1e9));

    const byTenant = (await usage<CounterUsageReport>(second, 'group=tenant&period=month')).body;
    expect(byTenant).toMatchObject({ object: 'usage', source: 'counters', period: 'month', group: 'tenant', currency: 'USD' });
    expect(byTenant.date).toMatch(/^\d{4}-\d{2}$/);
    expect(byTenant.data.map((row) => ['keys' in row ? row.keys : 0, row.tenant, row.requests, row.input_tokens])).toEqual([
      [2, 'acme', 5, 5 * inputPerRequest],
      [1, 'globex', 1, inputPerRequest],
    ]);
    const lastMonth = (await usage<CounterUsageReport>(second, 'period=day&date=2020-02-29')).body;
    expect(lastMonth).toMatchObject({ date: '2020-02-29', starts_at: '2020-02-29T00:00:00.000Z', ends_at: '2020-03-01T00:00:00.000Z', data: [] });
    expect((await usage<{ error: { param: string } }>(second, 'period=day&date=2021-02-29')).body.error.param).toBe('date');

    // The CLI reads the same counters from Redis and shapes them with the same report.
    const cli = runCli(['keys', 'usage', '--redis', redis.url, '--prefix', prefix, '--group', 'tenant', '--period', 'month', '--json']);
    expect((await cli.exited()).code, cli.stderr()).toBe(0);
    expect(JSON.parse(cli.stdout())).toEqual(byTenant);
    const table = runCli(['keys', 'usage', '--redis', redis.url, '--prefix', prefix]);
    expect((await table.exited()).code, table.stderr()).toBe(0);
    expect(table.stdout()).toMatch(/^day \d{4}-\d{2}-\d{2} \(UTC\), cost in USD\nkey +tenant +requests +input +cached +output +cost\nacme-batch +acme +2 /);
    const wrongFlag = runCli(['keys', 'usage', '--redis', redis.url, '--group', 'model']);
    expect((await wrongFlag.exited()).code).toBe(2);
    expect(wrongFlag.stderr()).toContain('--group: expected key or tenant, got "model"');
    // A gateway whose counters live in its own memory: the CLI has nothing to read and says where to look.
    const memoryConfig = join(mkdtempSync(join(tmpdir(), 'tollbooth-usage-cli-')), 'tollbooth.yaml');
    writeFileSync(memoryConfig, stringify({ replicas: [{ url: simulator.url, models: [MODEL] }], auth: { enabled: false } }));
    const memory = runCli(['keys', 'usage', '--config', memoryConfig]);
    expect((await memory.exited()).code).toBe(2);
    expect(memory.stderr()).toContain('GET /api/v1/usage');

    // Redis gone: the shared counters cannot be read, and the API says so rather than answer this instance's share.
    await redis.kill();
    try {
      const down = await usage<{ error: { code: string } }>(first, 'group=key');
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('usage_source_unavailable');
    } finally {
      await redis.restart();
    }
  });

  it('answers per tenant and model from Prometheus over a range, and refuses keys there', { timeout: 60_000 }, async () => {
    const prefix = `p${Date.now().toString(36)}:`;
    const scraped = await gateway(prefix);
    const prometheus = await startPrometheus({ url: scraped.adminUrl! });
    teardown.defer(() => prometheus.stop());
    const reader = await gateway(prefix, { admin: { tokens: [{ id: 'ops', token: OPS_TOKEN }], prometheusUrl: prometheus.url } });

    // One request per key before the range, so every series exists when it starts.
    for (const key of KEYS) await chat(scraped, key.secret);
    await prometheus.targetUp();
    await new Promise((wake) => setTimeout(wake, 2_500));
    // The range starts a scrape (1 s) before the traffic: increase() sees only changes between samples inside the range.
    const from = new Date().toISOString();
    await new Promise((wake) => setTimeout(wake, 1_500));
    await traffic(scraped, scraped);
    await new Promise((wake) => setTimeout(wake, 3_000));

    let report: PrometheusUsageReport | undefined;
    await until(async () => {
      const answer = await usage<PrometheusUsageReport>(reader, `source=prometheus&from=${encodeURIComponent(from)}`);
      expect(answer.status).toBe(200);
      report = answer.body;
      return report.data.reduce((sum, row) => sum + row.requests, 0) >= 6;
    }, () => `the traffic in Prometheus; the last answer: ${JSON.stringify(report)}`);
    expect(report).toMatchObject({ object: 'usage', source: 'prometheus', group: 'tenant', currency: 'USD', from });
    expect(report!.data.map((row) => [row.tenant, row.model])).toEqual([
      ['acme', MODEL],
      ['globex', MODEL],
    ]);
    // increase() extrapolates to the range's edges (scrapes every second over several seconds): the counts, give or take that.
    const [acme, globex] = report!.data as [PrometheusUsageReport['data'][number], PrometheusUsageReport['data'][number]];
    expect(acme.requests).toBeGreaterThanOrEqual(5);
    expect(acme.requests).toBeLessThanOrEqual(7);
    expect(globex.requests).toBeGreaterThanOrEqual(1);
    expect(globex.requests).toBeLessThanOrEqual(2);
    // Four output tokens a request, each figure extrapolated on its own.
    expect(acme.output_tokens / acme.requests).toBeCloseTo(4, 0);
    expect(acme.input_tokens).toBeGreaterThan(0);
    expect(Number(acme.cost)).toBeGreaterThan(0);

    const keysRefused = await usage<{ error: { code: string; param: string } }>(reader, `source=prometheus&group=key&from=${encodeURIComponent(from)}`);
    expect(keysRefused.status).toBe(400);
    expect(keysRefused.body.error).toMatchObject({ code: 'invalid_usage_query', param: 'group' });
    const reversed = await usage<{ error: { param: string } }>(reader, `source=prometheus&from=${encodeURIComponent(new Date().toISOString())}&to=${encodeURIComponent(from)}`);
    expect(reversed.body.error.param).toBe('from');
  });
});
