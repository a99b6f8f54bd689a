import { describe, expect, it } from 'vitest';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import type { BudgetReport } from '../../../src/ratelimit/budget-report.js';
import type { MetricsApiResponse } from '../../../src/telemetry/stats/snapshot.js';
import { redisReady } from '../../../src/redis/client.js';
import { budgetPeriods } from '../../../src/ratelimit/budget-periods.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { RedisRateLimiter } from '../../../src/ratelimit/redis-store.js';
import { startSimulator } from '../../../src/sim/index.js';
import { issueKey } from '../../helpers/api-keys.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { promtoolCheckMetrics, sampleSum } from '../../helpers/promtool.js';
import { useRedisServer } from '../../helpers/redis-server.js';

const MODEL = 'test-model';
const { fleet, defer } = teardownAfterEach();

const spender = issueKey({ id: 'spender', tenant: 'acme', budget: { daily: 3 } });
const saver = issueKey({ id: 'saver', tenant: 'acme', budget: { daily: 3, monthly: 50 } });
const unbudgeted = issueKey({ id: 'free', tenant: 'acme' });

/** Fast reads and a short rate window, so the figures move within a test; an alert pending for 1 s. */
function budgetConfig(): Partial<TollboothConfigInput> {
  return {
    auth: { keys: [spender.stored, saver.stored, unbudgeted.stored], tenants: ['acme'] },
    // 0.01 per token: a request (a few prompt tokens and 10 completion tokens) costs about 0.15.
    cost: { tokenPrices: { [MODEL]: { input: 10_000, output: 10_000 } } },
    alerts: {
      evaluationIntervalMs: 200,
      rules: [{ name: 'DailyBudgetRunningOut', figure: 'day.projected_percent', comparison: '>=', threshold: 100, forMs: 1_000, scope: 'key' }],
    },
  };
}

const chat = { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hello there' }] };

async function budgets(gateway: TestGateway): Promise<BudgetReport | null> {
  const response = await fetch(`${gateway.adminUrl}/api/v1/budgets`);
  expect(response.status).toBe(200);
  return (await response.json()) as BudgetReport | null;
}

/** Polls `read` until `accept` holds (no timing assertion: a loaded machine only makes it slower). */
async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

/** Sends requests one after another with `secret` until `stop()`; returns the statuses seen. */
function spendUntil(url: string, secret: string, stop: () => boolean): Promise<number[]> {
  const statuses: number[] = [];
  const loop = async (): Promise<number[]> => {
    while (!stop()) {
      statuses.push((await postJson(`${url}/v1/chat/completions`, chat, { authorization: `Bearer ${secret}` })).status);
      await new Promise((wake) => setTimeout(wake, 50));
    }
    return statuses;
  };
  return loop();
}

describe('budget forecasts (memory store)', () => {
  it('moves the JSON and the gauges as a key spends, and the built-in alert goes pending then firing', async () => {
    const { gateway } = await fleet({
      models: [MODEL],
      simulator: { outputTokens: { min: 10, max: 10 }, prefillBaseMs: 0, interTokenMs: 0 },
      gateway: { ...budgetConfig(), rateLimits: { budgetReport: { refreshIntervalMs: 200, rateWindowMs: 5_000 } } },
    });

    const idle = await until(() => budgets(gateway), (report) => report !== null, 'a first budgets report');
    expect(idle!.store).toBe('memory');
    expect(Object.keys(idle!.keys)).toEqual(['saver', 'spender']);
    expect(idle!.keys['spender']!.day).toMatchObject({ budget: '3', spent: '0', exhausted: false, exhausts_in_seconds: null });
    expect(idle!.keys['saver']!.month).toMatchObject({ budget: '50', spent: '0' });
    expect(idle!.tenants['acme']).toMatchObject({ keys: 2, day: { budget: '6', spent: '0' } });

    let done = false;
    const spending = spendUntil(gateway.url, spender.secret, () => done);
    try {
      // While the key spends, its forecast says it runs out today, and the alert fires for it.
      const running = await until(
        () => budgets(gateway),
        (report) => (report?.keys['spender']?.day?.exhausts_in_seconds ?? null) !== null && report!.keys['spender']!.day!.spent !== '0',
        'a forecast for the spending key',
      );
      expect(running!.keys['spender']!.spend_per_hour).not.toBeNull();
      expect(running!.keys['spender']!.day!.projected_percent).toBeGreaterThan(100);
      const firing = await until(
        async () => ((await (await fetch(`${gateway.adminUrl}/api/v1/metrics`)).json()) as MetricsApiResponse).alerts,
        (alerts) => alerts.some((alert) => alert.name === 'DailyBudgetRunningOut'),
        'DailyBudgetRunningOut firing',
      );
      expect(firing.filter((alert) => alert.name === 'DailyBudgetRunningOut')).toEqual([
        expect.objectContaining({ severity: 'warning', scope: 'key', key: 'spender', figure: 'day.projected_percent', threshold: 100 }),
      ]);
      const transitions = gateway.logs.filter((line) => line.alert === 'DailyBudgetRunningOut').map((line) => [line.from, line.to]);
      expect(transitions.slice(0, 2)).toEqual([
        ['inactive', 'pending'],
        ['pending', 'firing'],
      ]);

      // The key spends its whole budget: refused, and counted as spent.
      await until(() => budgets(gateway), (report) => report?.keys['spender']?.day?.exhausted === true, 'the spender at its cap');
    } finally {
      done = true;
    }
    const statuses = await spending;
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);

    const spent = await until(() => budgets(gateway), (report) => report?.keys['spender']?.day?.exhausts_in_seconds === 0, 'the exhausted forecast');
    expect(spent!.keys['saver']!.day).toMatchObject({ spent: '0', exhausts_in_seconds: null });
    expect(spent!.tenants['acme']!.day!.spent_percent).toBeGreaterThanOrEqual(50);

    const exposition = await until(
      async () => (await fetch(`${gateway.adminUrl}/metrics`)).text(),
      (text) => sampleSum(text, 'tollbooth_budget_keys_spent', { tenant: 'acme', period: 'day', ratio: '1' }) === 1,
      'the spent key in the gauges',
    );
    expect(sampleSum(exposition, 'tollbooth_budget_keys', { tenant: 'acme', period: 'day' })).toBe(2);
    expect(sampleSum(exposition, 'tollbooth_budget_keys', { tenant: 'acme', period: 'month' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_budget_keys_spent', { tenant: 'acme', period: 'day', ratio: '0.8' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_budget_keys_forecast_exhausted', { tenant: 'acme', period: 'day' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_budget_spent_ratio', { tenant: 'acme', period: 'day' })).toBeGreaterThanOrEqual(0.5);
    expect(sampleSum(exposition, 'tollbooth_alerts_firing', { alertname: 'DailyBudgetRunningOut', scope: 'key' })).toBe(1);
    // The month budget of the saver is untouched: no forecast, so no series.
    expect(exposition).not.toMatch(/^tollbooth_budget_exhaustion_forecast_seconds\{[^}]*period="month"/m);
    // Metrics never name keys.
    expect(exposition).not.toMatch(/spender|saver/);
    const check = await promtoolCheckMetrics(exposition);
    expect(check.code, check.output).toBe(0);
  });
});

describe('budget forecasts (Redis store, two gateways)', () => {
  const redis = useRedisServer();

  it('shows the shared counters on every instance, whichever served the requests', async () => {
    const simulator = await startSimulator({ seed: 5, models: [MODEL], outputTokens: { min: 10, max: 10 }, prefillBaseMs: 0, interTokenMs: 0 });
    defer(() => simulator.close());
    const shared: Partial<TollboothConfigInput> = {
      ...budgetConfig(),
      replicas: [{ name: 'sim', url: simulator.url, models: [MODEL] }],
      rateLimits: { store: 'redis', budgetReport: { refreshIntervalMs: 200, rateWindowMs: 5_000 } },
      redis: { url: redis.server().url, keyPrefix: `b${Date.now().toString(36)}:` },
    };
    const serving = await startTestGateway({ ...shared, replicas: shared.replicas! });
    defer(() => serving.close());
    const watching = await startTestGateway({ ...shared, replicas: shared.replicas! });
    defer(() => watching.close());

    const requests = 4;
    for (let sent = 0; sent < requests; sent += 1) {
      const answer = await postJson(`${serving.url}/v1/chat/completions`, chat, { authorization: `Bearer ${spender.secret}` });
      expect(answer.status).toBe(200);
      await serving.accessLineOf(answer.headers.get('x-request-id')!);
    }
    const costs = serving.accessLines().filter((line) => line.key_id === 'spender').map((line) => line.cost);
    expect(costs).toHaveLength(requests);

    // The instance that served nothing reads the same spend from Redis.
    const [fromServing, fromWatching] = await until(
      () => Promise.all([budgets(serving), budgets(watching)]),
      ([a, b]) => a !== null && b !== null && a.keys['spender']!.day!.spent !== '0' && a.keys['spender']!.day!.spent === b.keys['spender']!.day!.spent,
      'both instances reading the same spend',
    );
    expect(fromWatching!.store).toBe('redis');
    expect(fromWatching!.keys['spender']!.day!.spent).toBe(fromServing!.keys['spender']!.day!.spent);
    expect(fromWatching!.keys['spender']!.day!.spent).toBe(sumDecimal(costs.map(String)));
    expect(fromWatching!.keys['spender']!.day!.resets_at).toBe(fromServing!.keys['spender']!.day!.resets_at);

    const ratio = async (gateway: TestGateway) => sampleSum(await (await fetch(`${gateway.adminUrl}/metrics`)).text(), 'tollbooth_budget_spent_ratio', { tenant: 'acme', period: 'day' });
    const [servingRatio, watchingRatio] = await until(() => Promise.all([ratio(serving), ratio(watching)]), ([a, b]) => a > 0 && a === b, 'equal gauges on both instances');
    expect(watchingRatio).toBe(servingRatio);
  });

  it('keeps the last figures while Redis is down, without counting internal errors, and reads again once it is back', async () => {
    const gateway = await fleet({
      models: [MODEL],
      simulator: { outputTokens: { min: 10, max: 10 }, prefillBaseMs: 0, interTokenMs: 0 },
      gateway: {
        ...budgetConfig(),
        rateLimits: { store: 'redis', budgetReport: { refreshIntervalMs: 200, rateWindowMs: 5_000 } },
        redis: { url: redis.server().url, keyPrefix: `o${Date.now().toString(36)}:` },
      },
    }).then((started) => started.gateway);
    const answer = await postJson(`${gateway.url}/v1/chat/completions`, chat, { authorization: `Bearer ${spender.secret}` });
    expect(answer.status).toBe(200);
    const before = await until(() => budgets(gateway), (report) => report !== null && report.keys['spender']!.day!.spent !== '0', 'the spend read from Redis');

    await redis.server().kill();
    // Several refresh intervals pass with Redis gone: the figures stay as last read.
    await new Promise((wake) => setTimeout(wake, 1_500));
    const during = await budgets(gateway);
    expect(during!.keys['spender']!.day!.spent).toBe(before!.keys['spender']!.day!.spent);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(sampleSum(metrics, 'tollbooth_internal_errors_total', { stage: 'budgets' })).toBe(0);
    expect(metrics).toMatch(/^tollbooth_internal_errors_total\{stage="budgets"\} 0$/m);

    // A restarted Redis has lost its counters (it is their only copy): the next read says so.
    await redis.server().restart();
    const after = await until(() => budgets(gateway), (report) => report!.read_at > during!.read_at, 'a read after Redis came back');
    expect(after!.keys['spender']!.day!.spent).toBe('0');
  });

  it("reads a past day's or month's counter as nothing spent, by Redis's clock, as the admit script does", async () => {
    const client = redis.client();
    await redisReady(client);
    const prefix = `p${Date.now().toString(36)}:`;
    const limiter = new RedisRateLimiter({ client, config: rateLimitConfigSchema.parse({ store: 'redis' }), keyPrefix: prefix });
    const [seconds] = await client.time();
    const { day, month } = budgetPeriods(Number(seconds) * 1000);
    await client.hset(`${prefix}{rl:k:yesterday}:budget:yesterday`, { d: day - 1, ds: 5_000_000_000, m: month, ms: 7_000_000_000 });
    await client.hset(`${prefix}{rl:k:last-month}:budget:last-month`, { d: day - 40, ds: 1, m: month - 1, ms: 9 });
    await client.hset(`${prefix}{rl:k:today}:budget:today`, { d: day, ds: 2_000_000_000, m: month, ms: 3_000_000_000 });
    const keys = ['yesterday', 'last-month', 'today', 'never'].map((keyId) => ({ keyId, tenant: 'acme', budget: { daily: 10 } }));
    const reading = await limiter.readBudgetSpend(keys);
    expect(reading.store).toBe('redis');
    expect(Math.abs(reading.atMs - Number(seconds) * 1000)).toBeLessThan(60_000);
    expect(Object.fromEntries(reading.spends)).toEqual({
      yesterday: { daySpentNanos: 0n, monthSpentNanos: 7_000_000_000n },
      'last-month': { daySpentNanos: 0n, monthSpentNanos: 0n },
      today: { daySpentNanos: 2_000_000_000n, monthSpentNanos: 3_000_000_000n },
    });
  });
});

/** Sum of exact decimal strings (the access log's costs), as the budget report writes it. */
function sumDecimal(values: readonly string[]): string {
  const nanos = values.reduce((sum, value) => {
    const [whole, fraction = ''] = value.split('.');
    return sum + BigInt(whole!) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'));
  }, 0n);
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${nanos / 1_000_000_000n}${fraction === '' ? '' : `.${fraction}`}`;
}
