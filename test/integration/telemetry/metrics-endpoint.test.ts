import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startFleet, type TestFleet } from '../../helpers/fleet.js';
import { promtoolCheckMetrics, sampleSum } from '../../helpers/promtool.js';

const TOKEN = 'scrape-token-0123456789';
let fleet: TestFleet;
let exposition: string;

/** A mixed load: streams with and without usage, plain calls, every kind of failure. */
async function mixedLoad(): Promise<void> {
  const url = `${fleet.gateway.url}/v1/chat/completions`;
  const chat = (extra: Record<string, unknown> = {}) => ({ model: 'test-model', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 6, ...extra });
  const sdk = new OpenAI({ baseURL: `${fleet.gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  for (let i = 0; i < 4; i += 1) {
    const stream = await sdk.chat.completions.create({ ...chat(), stream: true } as OpenAI.ChatCompletionCreateParamsStreaming, {
      headers: { 'x-sim-tokens': '6', 'x-request-id': `stream-${i}` },
    });
    for await (const chunk of stream) void chunk;
  }
  await postJson(url, chat(), { 'x-sim-tokens': '6' });
  await postJson(`${fleet.gateway.url}/v1/embeddings`, { model: 'test-model', input: 'abc' });
  await postJson(url, chat({ model: 'gpt-nope' }));
  await postJson(url, '{"broken":');
  await postJson(url, chat(), { 'x-sim-fault': 'error:503' });
  await postJson(url, chat({ stream: true, max_tokens: 20 }), { 'x-sim-fault': 'disconnect:2' });
  await postJson(url, chat({ stream: true, max_tokens: 20 }), { 'x-sim-fault': 'stream-error:2' });
  await fleet.gateway.accessLineOf('stream-3');
}

beforeAll(async () => {
  fleet = await startFleet({
    replicas: 2,
    simulator: { interTokenMs: 2, prefillBaseMs: 2 },
    gateway: {
      metrics: { bearerToken: TOKEN, basicAuth: { username: 'prometheus', password: 'scrape-me-please' } },
      cost: { tokenPrices: { 'test-model': { input: 1, output: 2 } } },
    },
  });
  await mixedLoad();
  // Telemetry runs when each response closes; give the last ones a moment.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const response = await fetch(`${fleet.gateway.adminUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  exposition = await response.text();
});
afterAll(() => fleet.close());

describe('GET /metrics', () => {
  it('passes promtool check metrics with no complaint', async () => {
    const result = await promtoolCheckMetrics(exposition);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('counts every request once, by outcome', () => {
    const requests = (labels: Record<string, string>) => sampleSum(exposition, 'tollbooth_requests_total', labels);
    expect(requests({ route: '/v1/chat/completions', outcome: 'success', stream: 'true' })).toBe(4);
    expect(requests({ outcome: 'success', stream: 'false', route: '/v1/chat/completions' })).toBe(1);
    expect(requests({ outcome: 'rejected' })).toBe(2);
    expect(requests({ outcome: 'rejected', model: 'unknown', status_class: '4xx' })).toBe(1);
    expect(requests({ outcome: 'upstream_error' })).toBe(2);
    expect(requests({ outcome: 'upstream_failure' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_errors_total', { type: 'upstream_http_503' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_errors_total', { type: 'upstream_in_band' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_errors_total', { type: 'upstream_stream_interrupted' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_errors_total', { type: 'model_not_found' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_errors_total', { type: 'invalid_json' })).toBe(1);
  });

  it('feeds TTFT, TPOT and gaps from successful streams only, with exact token counts', () => {
    expect(sampleSum(exposition, 'tollbooth_time_to_first_token_seconds_count')).toBe(4);
    expect(sampleSum(exposition, 'tollbooth_upstream_time_to_first_token_seconds_count')).toBe(4);
    expect(sampleSum(exposition, 'tollbooth_time_per_output_token_seconds_count')).toBe(4);
    // 6 tokens, one per chunk: 5 gaps per stream.
    expect(sampleSum(exposition, 'tollbooth_inter_chunk_latency_seconds_count')).toBe(20);
    // 4 streams + 1 plain call of 6 output tokens each; the interrupted stream's tokens are estimated.
    expect(sampleSum(exposition, 'tollbooth_tokens_total', { kind: 'output', source: 'exact' })).toBe(30);
    expect(sampleSum(exposition, 'tollbooth_tokens_total', { kind: 'output', source: 'estimated' })).toBeGreaterThanOrEqual(2);
    expect(sampleSum(exposition, 'tollbooth_request_completion_tokens_count')).toBe(sampleSum(exposition, 'tollbooth_request_prompt_tokens_count'));
    expect(sampleSum(exposition, 'tollbooth_overhead_seconds_count')).toBeGreaterThanOrEqual(9);
  });

  it('exports cost in whole micro-units and the fleet gauges', () => {
    const inputTokens = sampleSum(exposition, 'tollbooth_tokens_total', { kind: 'input', model: 'test-model' });
    const outputTokens = sampleSum(exposition, 'tollbooth_tokens_total', { kind: 'output', model: 'test-model' });
    // $1 and $2 per million tokens = 1 and 2 micro-units per token.
    expect(sampleSum(exposition, 'tollbooth_cost_micros_total', { model: 'test-model', currency: 'USD', basis: 'tokens' })).toBe(inputTokens + 2 * outputTokens);
    expect(sampleSum(exposition, 'tollbooth_replica_healthy')).toBe(2);
    expect(exposition).toMatch(/tollbooth_replica_in_flight_requests\{replica="sim-0"\} 0/);
    expect(exposition).toMatch(/tollbooth_build_info\{version="\d+\.\d+\.\d+"\} 1/);
  });

  it('refuses scrapes without the configured credentials', async () => {
    const anonymous = await fetch(`${fleet.gateway.adminUrl}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('metrics_unauthorized');
    expect((await fetch(`${fleet.gateway.adminUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const basic = `Basic ${Buffer.from('prometheus:scrape-me-please').toString('base64')}`;
    expect((await fetch(`${fleet.gateway.adminUrl}/metrics`, { headers: { authorization: basic } })).status).toBe(200);
    expect((await fetch(`${fleet.gateway.adminUrl}/api/v1/metrics`)).status).toBe(401);
  });
});

describe('GET /api/v1/metrics', () => {
  it('tells the same story as JSON, overall, per model and per replica, with no NaN', async () => {
    const response = await fetch(`${fleet.gateway.adminUrl}/api/v1/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await response.text();
    expect(text).not.toMatch(/NaN|Infinity/);
    const body = JSON.parse(text) as Record<string, any>;
    expect(body.requests.total).toBeGreaterThanOrEqual(11);
    expect(body.slo.ttft.p50).toBeGreaterThan(0);
    expect(body.slo.ttft.count).toBe(4);
    expect(body.tokens.total_output).toBe(sampleSum(exposition, 'tollbooth_tokens_total', { kind: 'output' }));
    expect(Object.keys(body.by_model)).toEqual(expect.arrayContaining(['test-model', 'unknown']));
    expect(Object.keys(body.by_replica)).toEqual(expect.arrayContaining(['sim-0', 'sim-1']));
    expect(body.errors.by_type).toMatchObject({ upstream_http_503: 1, model_not_found: 1, invalid_json: 1 });
    expect(body.since_start.overall.requests.total).toBe(body.requests.total);
  });
});
