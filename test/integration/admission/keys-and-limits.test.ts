import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../../src/auth/key-format.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { issueKey, type IssuedKey } from '../../helpers/api-keys.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { promtoolCheckMetrics, sampleSum } from '../../helpers/promtool.js';
import { useRedisServer } from '../../helpers/redis-server.js';

const { fleet } = teardownAfterEach();
const MODEL = 'test-model';

async function gatewayWith(keys: IssuedKey[], simulator: Record<string, unknown> = {}, gateway: Partial<TollboothConfigInput> = {}) {
  const started = await fleet({
    models: [MODEL, 'other-model'],
    simulator: { outputTokens: { min: 10, max: 10 }, prefillBaseMs: 0, interTokenMs: 1, ...simulator },
    gateway: { auth: { keys: keys.map((key) => key.stored), tenants: ['acme'] }, cost: { tokenPrices: { [MODEL]: { input: 1, output: 2 } } }, ...gateway },
  });
  return started.gateway;
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }], ...extra });

describe('API keys at the gateway', () => {
  it('answers missing, malformed, unknown and revoked-shaped keys with one identical 401 body', async () => {
    const key = issueKey({ id: 'team-a' });
    const gateway = await gatewayWith([key]);
    const url = `${gateway.url}/v1/chat/completions`;
    const answers = await Promise.all([
      postJson(url, chat()),
      postJson(url, chat(), { authorization: 'Basic dXNlcjpwYXNz' }),
      postJson(url, chat(), { authorization: `Bearer ${generateApiKey()}` }),
      postJson(url, chat(), { 'x-api-key': 'sk-tb-short' }),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.text)).toEqual({
        error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
      });
    }
    expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
    // The same key in any of the three headers is accepted.
    const presentations: Array<Record<string, string>> = [{ authorization: `Bearer ${key.secret}` }, { 'x-api-key': key.secret }, { 'api-key': key.secret }];
    for (const header of presentations) {
      expect((await postJson(url, chat(), header)).status).toBe(200);
    }
  });

  it('raises the SDK errors OpenAI clients already handle: 401 AuthenticationError, 403 PermissionDeniedError', async () => {
    const key = issueKey({ id: 'narrow', models: [MODEL] });
    const gateway = await gatewayWith([key]);
    const wrong = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-tb-nope', maxRetries: 0 });
    await expect(wrong.chat.completions.create(chat() as never)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const narrow = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.secret, maxRetries: 0 });
    const refused = narrow.chat.completions.create({ ...chat(), model: 'other-model' } as never);
    await expect(refused).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    await expect(refused).rejects.toMatchObject({ code: 'model_not_allowed', param: 'model' });
    const models = await narrow.models.list();
    expect(models.data.map((model) => model.id)).toEqual([MODEL]);
  });

  it('logs the key id and tenant, never the key', async () => {
    const key = issueKey({ id: 'logged', tenant: 'acme' });
    const gateway = await gatewayWith([key]);
    const answer = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { authorization: `Bearer ${key.secret}` });
    const line = await gateway.accessLineOf(answer.headers.get('x-request-id')!);
    expect(line).toMatchObject({ key_id: 'logged', tenant: 'acme' });
    expect(JSON.stringify(gateway.logs)).not.toContain(key.secret);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(metrics).not.toContain(key.secret);
    expect(metrics).not.toContain('logged');
  });
});

describe('rate limits at the gateway (memory store)', () => {
  it('sends the x-ratelimit headers on every response, and 429 with retry hints when the requests run out', async () => {
    const key = issueKey({ id: 'rpm', limits: { requestsPerMinute: 60, burstRequests: 2 } });
    const gateway = await gatewayWith([key]);
    const url = `${gateway.url}/v1/chat/completions`;
    const auth = { authorization: `Bearer ${key.secret}` };
    const first = await postJson(url, chat(), auth);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(first.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s)$/);
    // An error answered after admission carries them too.
    const unknown = await postJson(url, { ...chat(), model: 'no-such-model' }, auth);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const limited = await postJson(url, chat(), auth);
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.text).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    expect(Number(limited.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('x-should-retry')).toBeNull();

    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.secret, maxRetries: 0 });
    await expect(client.chat.completions.create(chat() as never)).rejects.toBeInstanceOf(OpenAI.RateLimitError);

    // Decisions are counted per tenant; this key's tenant was not declared, so it is "other".
    await gateway.accessLineOf(limited.headers.get('x-request-id')!);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(metrics).toContain('tollbooth_rate_limit_decisions_total{tenant="other",outcome="admitted",limit="none"} 2');
    expect(metrics).toMatch(/tollbooth_rate_limit_decisions_total\{tenant="other",outcome="limited",limit="requests"\} [23]/);
    expect(sampleSum(metrics, 'tollbooth_requests_total', { tenant: 'other', status_class: '4xx' })).toBe(3);
    expect(await promtoolCheckMetrics(metrics)).toMatchObject({ code: 0 });
  });

  it('reserves max_tokens before the call and refunds what a short answer did not use', async () => {
    const key = issueKey({ id: 'tpm', limits: { tokensPerMinute: 6, burstTokens: 1_000 } });
    const gateway = await gatewayWith([key]);
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.secret, maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ ...chat(), max_tokens: 500 } as never).withResponse();
    const completion = data as unknown as OpenAI.ChatCompletion;
    // While it ran, the whole reservation (prompt estimate + 500) was held.
    expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(500);
    const used = completion.usage!.total_tokens;
    expect(completion.usage!.completion_tokens).toBe(10);
    const gatewayUrl = `${gateway.url}/v1/chat/completions`;
    await gateway.accessLineOf(response.headers.get('x-request-id')!);
    // The next request sees the refund: only the real usage stays charged (the refill is 0.1 token/s).
    const next = await postJson(gatewayUrl, { ...chat(), max_tokens: 1 }, { authorization: `Bearer ${key.secret}` });
    const remainingBeforeNext = Number(next.headers.get('x-ratelimit-remaining-tokens'));
    const nextReservation = 1 + Math.ceil('hello there'.length / 4);
    expect(remainingBeforeNext + nextReservation).toBeGreaterThanOrEqual(1_000 - used);
    expect(remainingBeforeNext + nextReservation).toBeLessThanOrEqual(1_000 - used + 1);

    // A reservation larger than the bucket is refused; every reservation is counted by tenant and outcome.
    const refused = await postJson(gatewayUrl, { ...chat(), max_tokens: 5_000 }, { authorization: `Bearer ${key.secret}` });
    expect(refused.status).toBe(429);
    await gateway.accessLineOf(refused.headers.get('x-request-id')!);
    await gateway.accessLineOf(next.headers.get('x-request-id')!);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    const prompt = Math.ceil('hello there'.length / 4);
    expect(sampleSum(metrics, 'tollbooth_rate_limit_reserved_tokens_total', { tenant: 'other', outcome: 'admitted' })).toBe(500 + prompt + nextReservation);
    expect(sampleSum(metrics, 'tollbooth_rate_limit_reserved_tokens_total', { tenant: 'other', outcome: 'limited' })).toBe(5_000 + prompt);
  });

  it('refuses a request larger than the token bucket for good, and a spent budget with x-should-retry: false', async () => {
    const big = issueKey({ id: 'small-bucket', limits: { tokensPerMinute: 100 } });
    const spender = issueKey({ id: 'spender', budget: { daily: 0.000001 } });
    const gateway = await gatewayWith([big, spender]);
    const url = `${gateway.url}/v1/chat/completions`;
    const tooBig = await postJson(url, { ...chat(), max_tokens: 5_000 }, { authorization: `Bearer ${big.secret}` });
    expect(tooBig.status).toBe(429);
    expect(tooBig.headers.get('x-should-retry')).toBe('false');

    const auth = { authorization: `Bearer ${spender.secret}` };
    const first = await postJson(url, chat(), auth);
    expect(first.status).toBe(200);
    await gateway.accessLineOf(first.headers.get('x-request-id')!);
    const broke = await postJson(url, chat(), auth);
    expect(broke.status).toBe(429);
    expect(JSON.parse(broke.text).error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
    expect(broke.headers.get('x-should-retry')).toBe('false');
  });

  it('releases the concurrency slot of a stream whose client went away', async () => {
    await releasesTheSlotOfAnAbandonedStream({});
  });
});

describe('rate limits at the gateway (Redis store)', () => {
  const redis = useRedisServer();

  it('releases the concurrency slot of a stream whose client went away, in Redis too', async () => {
    const keyPrefix = `abandon${Date.now().toString(36)}:`;
    const leases = `${keyPrefix}{rl:k:one-at-a-time}:key:one-at-a-time:cc`;
    const admin = redis.client();
    await releasesTheSlotOfAnAbandonedStream(
      { rateLimits: { store: 'redis' }, redis: { url: redis.server().url, keyPrefix } },
      {
        whileStreaming: async () => expect(await admin.zcard(leases)).toBe(1),
        afterAbort: async () => expect(await admin.zcard(leases)).toBe(0),
      },
    );
  });
});

/**
 * A key allowed one request at a time streams, a second request is refused, the client of the
 * stream goes away, and the slot is free again for the next request.
 */
async function releasesTheSlotOfAnAbandonedStream(
  store: Partial<TollboothConfigInput>,
  checks: { whileStreaming?: () => Promise<void>; afterAbort?: () => Promise<void> } = {},
): Promise<void> {
  const key = issueKey({ id: 'one-at-a-time', limits: { maxConcurrent: 1 } });
  const gateway = await gatewayWith([key], { interTokenMs: 50, outputTokens: { min: 200, max: 200 } }, store);
  const url = `${gateway.url}/v1/chat/completions`;
  const auth = { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' };
  const controller = new AbortController();
  const streaming = await fetch(url, { method: 'POST', headers: auth, body: JSON.stringify(chat({ stream: true })), signal: controller.signal });
  expect(streaming.status).toBe(200);
  const reader = streaming.body!.getReader();
  await reader.read();
  // While the stream runs, a second request is refused by the concurrency limit.
  const second = await postJson(url, chat({ max_tokens: 2 }), auth);
  expect(second.status).toBe(429);
  expect(JSON.parse(second.text).error.message).toMatch(/concurrent/);
  await checks.whileStreaming?.();
  controller.abort();
  const requestId = streaming.headers.get('x-request-id')!;
  expect(await gateway.accessLineOf(requestId)).toMatchObject({ client_disconnected: true });
  // The access line is written when the response closes; the settlement's round trip may still be on its way.
  if (checks.afterAbort !== undefined) await eventually(checks.afterAbort);
  expect((await postJson(url, chat({ max_tokens: 2 }), auth)).status).toBe(200);
}

async function eventually(check: () => Promise<void>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((wake) => setTimeout(wake, 10));
    }
  }
}
