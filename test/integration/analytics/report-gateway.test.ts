import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { SlaReport } from '../../../src/analytics/report/report.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import type { MetricsApiResponse } from '../../../src/telemetry/stats/snapshot.js';
import { runCli } from '../../helpers/cli.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';

/**
 * `tollbooth report --gateway` (the built CLI) against a real gateway in front of the simulator,
 * after traffic with known injected faults: 503s and 400s answered by the replica, TTFT spikes of
 * 1.5 s on one model. The report's counts, availability, error rate and budgets must equal what
 * was sent and injected; its percentiles must be the gateway's own; objectives longer than the
 * gateway's window, or at a quantile the JSON does not keep, are not judged.
 */
const { defer, fleet } = teardownAfterEach();

const FAST = 'model-a';
const SLOW = 'model-b';
const OK_STREAMS = 40;
const SERVER_ERRORS = 10;
const CLIENT_ERRORS = 5;
const SLOW_STREAMS = 20;
const SPIKE_MS = 1500;
const OUTPUT_TOKENS = 8;
/** USD per million tokens; whole numbers keep every request's cost a whole number of nanos. */
const PRICES = { input: 2, cachedInput: 1, output: 6 };

const objectives = [
  { sli: 'availability', objective: 0.99, window: 'hourly' },
  { sli: 'error_rate', max: 0.2, window: 'hourly' },
  { sli: 'ttft', quantile: 0.95, thresholdSeconds: 1, window: 'hourly' },
  { sli: 'latency', quantile: 0.5, thresholdSeconds: 1, window: 'hourly' },
  { sli: 'availability', objective: 0.999, window: 'daily' },
  { sli: 'latency', quantile: 0.9, thresholdSeconds: 1, window: 'hourly' },
] as const;

interface Usage {
  prompt: number;
  cached: number;
  completion: number;
}

async function stream(client: OpenAI, model: string, content: string, headers: Record<string, string>, usage: Usage): Promise<void> {
  const chunks = await client.chat.completions.create(
    { model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content }] },
    { headers: { 'x-sim-tokens': String(OUTPUT_TOKENS), ...headers } },
  );
  for await (const chunk of chunks) {
    if (chunk.usage == null) continue;
    usage.prompt += chunk.usage.prompt_tokens;
    usage.cached += chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
    usage.completion += chunk.usage.completion_tokens;
  }
}

async function report(args: string[]): Promise<string> {
  const cli = runCli(['report', ...args]);
  const { code } = await cli.exited();
  expect(cli.stderr()).toBe('');
  expect(code).toBe(0);
  return cli.stdout();
}

describe('tollbooth report --gateway', () => {
  it("judges the last window's objectives from the gateway's JSON, with the injected failures counted exactly", async () => {
    const gatewayConfig = {
      // The hour the hourly objectives need; a daily one cannot be judged from it.
      metrics: { windowMs: 3_600_000 },
      // Injected 503s must reach the report, not eject the only replica.
      health: { ejectAfterFailures: 1000 },
      cost: { currency: 'USD', tokenPrices: { [FAST]: PRICES, [SLOW]: PRICES } },
      analytics: { report: { objectives: [...objectives] } },
    } satisfies Partial<TollboothConfigInput>;
    const { gateway, simulators } = await fleet({ models: [FAST, SLOW], simulator: { interTokenMs: 1, prefillBaseMs: 5, reportCachedTokens: true }, gateway: gatewayConfig });
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-report-gateway-'));
    defer(async () => rmSync(dir, { recursive: true, force: true }));
    const configFile = join(dir, 'tollbooth.json');
    writeFileSync(configFile, JSON.stringify({ ...gatewayConfig, auth: { enabled: false }, replicas: [{ name: 'sim-0', url: simulators[0]!.url, models: [FAST, SLOW] }] }));

    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const usage: Record<string, Usage> = { [FAST]: { prompt: 0, cached: 0, completion: 0 }, [SLOW]: { prompt: 0, cached: 0, completion: 0 } };
    // A shared prefix, so the simulator's prefix cache serves some prompt tokens.
    const prompt = (i: number) => `${'The toll booth keeps a ledger of every car that passes. '.repeat(8)} Car ${i}.`;
    for (let i = 0; i < OK_STREAMS; i += 8) await Promise.all(Array.from({ length: 8 }, (_, j) => stream(client, FAST, prompt(i + j), {}, usage[FAST]!)));
    await Promise.all(Array.from({ length: SLOW_STREAMS }, (_, i) => stream(client, SLOW, prompt(i), { 'x-sim-fault': `spike:${SPIKE_MS}` }, usage[SLOW]!)));
    const failing = async (status: number) => {
      const answer = await postJson(`${gateway.url}/v1/chat/completions`, { model: FAST, messages: [{ role: 'user', content: 'hi' }] }, { 'x-sim-fault': `error:${status}` });
      expect(answer.status).toBe(status);
    };
    await Promise.all([...Array.from({ length: SERVER_ERRORS }, () => failing(503)), ...Array.from({ length: CLIENT_ERRORS }, () => failing(400))]);

    const json = JSON.parse(await report(['--gateway', gateway.adminUrl!, '--config', configFile, '--format', 'json'])) as SlaReport;
    // Admin reads are not traffic: the window the CLI read is the one read here.
    const snapshot = (await (await fetch(`${gateway.adminUrl}/api/v1/metrics`)).json()) as MetricsApiResponse;
    expect(snapshot.requests.total).toBe(OK_STREAMS + SLOW_STREAMS + SERVER_ERRORS + CLIENT_ERRORS);

    expect(json.source).toContain(`the last window of the gateway at ${gateway.adminUrl}`);
    expect(Date.parse(json.to)).toBeLessThanOrEqual(Date.parse(snapshot.generated_at));
    const [availability, errorRate, ttft, latency, daily, p90] = json.objectives;
    const scope = (result: (typeof json.objectives)[number] | undefined, name: string) => result!.scopes.find((one) => one.scope.name === name)!;

    // Availability and error rate: 5xx only (the 400s count as requests, not as failures).
    const total = OK_STREAMS + SLOW_STREAMS + SERVER_ERRORS + CLIENT_ERRORS;
    const fastTotal = OK_STREAMS + SERVER_ERRORS + CLIENT_ERRORS;
    expect(availability!.met).toBe(false);
    expect(scope(availability, 'all').figure).toBe(1 - SERVER_ERRORS / total);
    expect(scope(availability, 'all').windows).toEqual([expect.objectContaining({ events: total, bad: SERVER_ERRORS, partial: true })]);
    expect(scope(availability, 'all').budget).toEqual({ allowed: expect.closeTo(0.01 * total, 9), used: SERVER_ERRORS, left: expect.closeTo(0.01 * total - SERVER_ERRORS, 9), usedShare: expect.closeTo(SERVER_ERRORS / (0.01 * total), 9) });
    expect(scope(availability, FAST)).toMatchObject({ met: false, figure: 1 - SERVER_ERRORS / fastTotal });
    expect(scope(availability, SLOW)).toMatchObject({ met: true, figure: 1 });
    expect(scope(availability, 'all').worstPeriods).toEqual([expect.objectContaining({ events: total, bad: SERVER_ERRORS })]);
    expect(errorRate!.met).toBe(true);
    expect(scope(errorRate, 'all').figure).toBe(SERVER_ERRORS / total);
    expect(scope(errorRate, FAST)).toMatchObject({ met: true, figure: SERVER_ERRORS / fastTotal });

    // TTFT p95 (successful streams only): the slow model's spikes break it; the figures are the gateway's.
    expect(ttft!.met).toBe(false);
    expect(scope(ttft, 'all').figure).toBe(snapshot.slo.ttft.p95);
    expect(scope(ttft, 'all').figure).toBeGreaterThanOrEqual(SPIKE_MS / 1000);
    expect(scope(ttft, 'all').windows[0]!.events).toBe(OK_STREAMS + SLOW_STREAMS);
    expect(scope(ttft, 'all').budget.used).toBeNull();
    expect(scope(ttft, FAST)).toMatchObject({ met: true, figure: snapshot.by_model[FAST]!.slo.ttft.p95 });
    expect(scope(ttft, FAST).figure).toBeLessThan(1);
    expect(scope(ttft, SLOW)).toMatchObject({ met: false, figure: snapshot.by_model[SLOW]!.slo.ttft.p95 });

    // Latency p50 ≤ 1 s is met; the requests above 1 s are exactly the spiked ones (a histogram edge).
    expect(latency!.met).toBe(true);
    expect(scope(latency, 'all').figure).toBe(snapshot.latency.p50);
    expect(scope(latency, 'all').budget).toMatchObject({ used: SLOW_STREAMS, allowed: 0.5 * total });
    expect(scope(latency, SLOW).budget).toMatchObject({ used: SLOW_STREAMS, allowed: 0.5 * SLOW_STREAMS });
    expect(scope(latency, SLOW).met).toBe(false);

    // What the JSON cannot answer is said, not invented.
    expect(daily).toMatchObject({ met: null, scopes: [] });
    expect(daily!.notJudged).toContain('not enough history');
    expect(daily!.notJudged).toContain('3600 s');
    expect(p90).toMatchObject({ met: null, scopes: [] });
    expect(p90!.notJudged).toContain('p50, p95 and p99 only, not p90');

    // Cost: the tokens the client was told, at the configured prices.
    const nanos = (tokens: Usage) => (tokens.prompt - tokens.cached) * PRICES.input * 1000 + tokens.cached * PRICES.cachedInput * 1000 + tokens.completion * PRICES.output * 1000;
    for (const model of [FAST, SLOW]) {
      const row = json.cost.byModel.find((one) => one.name === model)!;
      expect(row).toMatchObject({ inputTokens: usage[model]!.prompt, cachedInputTokens: usage[model]!.cached, outputTokens: usage[model]!.completion });
      expect(Math.round(Number(row.cost) * 1e9)).toBe(nanos(usage[model]!));
    }
    expect(usage[FAST]!.completion).toBe(OK_STREAMS * OUTPUT_TOKENS);
    expect(json.cost.total.outputTokens).toBe((OK_STREAMS + SLOW_STREAMS) * OUTPUT_TOKENS);
    // ROI: each cached token saved the input − cached-input price.
    const cachedAll = usage[FAST]!.cached + usage[SLOW]!.cached;
    expect(cachedAll).toBeGreaterThan(0);
    for (const model of [FAST, SLOW]) {
      const roi = json.prefixCacheRoi.byModel.find((one) => one.model === model)!;
      expect(roi).toMatchObject({ basis: 'tokens', cachedInputTokens: usage[model]!.cached });
      expect(Math.round(Number(roi.saved) * 1e9)).toBe(usage[model]!.cached * (PRICES.input - PRICES.cachedInput) * 1000);
    }

    const markdown = await report(['--gateway', gateway.adminUrl!, '--config', configFile]);
    expect(markdown).toContain('Source: the last window of the gateway');
    expect(markdown).toContain(`| availability ≥ 99 % hourly | MISSED | ${Number(((1 - SERVER_ERRORS / total) * 100).toFixed(4))} % |`);
    expect(markdown).toContain('| availability ≥ 99.9 % daily | not judged |');
    expect(markdown).toContain('Not judged: not enough history');
    const html = await report(['--gateway', gateway.adminUrl!, '--config', configFile, '--format', 'html']);
    expect(html).toContain('<svg');
    expect(html).toContain('not judged');
    expect(html).not.toMatch(/<script|src="http|href="http/);
  });

  it('exits 1 naming the gateway when it cannot be read, 2 when flags of the other source are given', async () => {
    const { gateway } = await fleet({ gateway: { metrics: { bearerToken: 'a-metrics-token-of-16+' } } });
    const refused = runCli(['report', '--gateway', gateway.adminUrl!]);
    expect((await refused.exited()).code).toBe(1);
    expect(refused.stderr()).toContain(`tollbooth report: ${gateway.adminUrl}: 401: the metrics endpoints want credentials`);
    const allowed = runCli(['report', '--gateway', gateway.adminUrl!, '--token', 'a-metrics-token-of-16+', '--format', 'json']);
    expect((await allowed.exited()).code).toBe(0);
    expect((JSON.parse(allowed.stdout()) as SlaReport).objectives.every((objective) => objective.notJudged?.includes('not enough history'))).toBe(true);
    const mixed = runCli(['report', '--gateway', gateway.adminUrl!, '--from', '2026-11-01T00:00:00Z']);
    expect((await mixed.exited()).code).toBe(2);
    expect(mixed.stderr()).toContain("--from applies to --prometheus; --gateway reports the gateway's last window");
  });
});
