import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../../src/sim/index.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';

const teardown = teardownAfterEach();

function errorOf(text: string): { message: string; type: string; param: string | null; code: string | null } {
  const body = JSON.parse(text) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return body.error;
}

const chat = (extra: Record<string, unknown> = {}) => ({
  model: 'test-model',
  messages: [{ role: 'user', content: 'hello' }],
  max_tokens: 8,
  ...extra,
});

describe('errors the gateway itself detects', () => {
  it('400 for invalid JSON, a missing model and a wrong field type; 415 for a non-JSON body', async () => {
    const { gateway } = await teardown.fleet({});
    const url = `${gateway.url}/v1/chat/completions`;
    const invalid = await postJson(url, '{"model": "test-model",');
    expect(invalid.status).toBe(400);
    expect(errorOf(invalid.text).code).toBe('invalid_json');
    expect(invalid.headers.get('x-request-id')).toBeTruthy();

    const missing = await postJson(url, { messages: [] });
    expect([missing.status, errorOf(missing.text).code, errorOf(missing.text).param]).toEqual([400, 'missing_model', 'model']);

    const wrongType = await postJson(url, { model: 'test-model', stream: 'yes' });
    expect([wrongType.status, errorOf(wrongType.text).param]).toEqual([400, 'stream']);

    const text = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect([text.status, errorOf(await text.text()).code]).toEqual([415, 'unsupported_media_type']);
  });

  it('404 model_not_found for a model no replica serves, 404 unknown_url for other routes', async () => {
    const { gateway } = await teardown.fleet({});
    const unknownModel = await postJson(`${gateway.url}/v1/chat/completions`, chat({ model: 'gpt-17' }));
    expect(unknownModel.status).toBe(404);
    expect(errorOf(unknownModel.text)).toEqual({
      message: 'The model `gpt-17` does not exist.',
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
    const unknownRoute = await fetch(`${gateway.url}/admin/secret?x=1`);
    expect(unknownRoute.status).toBe(404);
    expect(errorOf(await unknownRoute.text())).toMatchObject({ code: 'unknown_url', message: 'Invalid URL (GET /admin/secret)' });
  });

  it('413 for a body over the configured limit, without reading it all', async () => {
    const { gateway, simulators } = await teardown.fleet({ gateway: { server: { bodyLimitBytes: 1024 } } });
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat({ padding: 'x'.repeat(4096) }), { 'x-request-id': 'too-big' });
    expect(response.status).toBe(413);
    expect(errorOf(response.text).code).toBe('request_too_large');
    expect(simulators[0]!.truth.get('too-big')).toBeUndefined();
  });

  it('503 no_replica_available when every replica serving the model is down', async () => {
    const simulator = await startSimulator({ models: ['test-model'] });
    const url = simulator.url;
    await simulator.close();
    const gateway = await startTestGateway({ replicas: [{ url, models: ['test-model'] }] });
    teardown.defer(() => gateway.close());
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat());
    expect(response.status).toBe(503);
    expect(errorOf(response.text)).toMatchObject({ code: 'no_replica_available', type: 'server_error' });
  });
});

describe('errors on the way to a replica', () => {
  async function gatewayBeforeReplicaDies(): Promise<TestGateway> {
    const simulator = await startSimulator({ models: ['test-model'] });
    // Probes are slow here, so the gateway still believes in the replica when it is gone.
    const gateway = await startTestGateway({
      replicas: [{ url: simulator.url, models: ['test-model'] }],
      health: { probeIntervalMs: 60_000 },
    });
    teardown.defer(() => gateway.close());
    await simulator.close();
    return gateway;
  }

  it('502 upstream_unreachable when the connection is refused', async () => {
    const gateway = await gatewayBeforeReplicaDies();
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-request-id': 'refused' });
    expect(response.status).toBe(502);
    expect(errorOf(response.text)).toMatchObject({ code: 'upstream_unreachable', type: 'server_error' });
    expect(await gateway.accessLineOf('refused')).toMatchObject({ status: 502, error_code: 'upstream_unreachable', replica: expect.any(String) });
  });

  it('502 upstream_connection_reset when the replica drops the connection before answering', async () => {
    const { gateway } = await teardown.fleet({});
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-sim-fault': 'disconnect:0' });
    expect(response.status).toBe(502);
    expect(errorOf(response.text).code).toBe('upstream_connection_reset');
  });

  it('504 upstream_timeout when the replica sends no headers in time', async () => {
    const { gateway, simulators } = await teardown.fleet({ gateway: { upstream: { headersTimeoutMs: 300 } } });
    const started = performance.now();
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-sim-fault': 'hang', 'x-request-id': 'hung' });
    expect(response.status).toBe(504);
    expect(errorOf(response.text).code).toBe('upstream_timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    // The hung upstream request was abandoned, not left open.
    expect((await simulators[0]!.truth.waitFor('hung', 2_000))?.outcome).toBe('client_closed');
  });

  it.each([
    ['nested', 'error:400'],
    ['legacy', 'error:400'],
  ] as const)('normalises vLLM %s error bodies, keeping the status', async (errorStyle, fault) => {
    const { gateway } = await teardown.fleet({ simulator: { errorStyle } });
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-sim-fault': fault });
    expect(response.status).toBe(400);
    const error = errorOf(response.text);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('normalises a replica 503, keeping the status', async () => {
    const { gateway } = await teardown.fleet({});
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-sim-fault': 'error:503' });
    expect(response.status).toBe(503);
    expect(errorOf(response.text).type).toBe('server_error');
  });

  it('normalises vLLM --api-key rejections ({"error":"Unauthorized"}) and uses the replica key when configured', async () => {
    const simulator = await startSimulator({ models: ['test-model'], apiKey: 'replica-secret' });
    teardown.defer(() => simulator.close());
    const withoutKey = await startTestGateway({ replicas: [{ url: simulator.url, models: ['test-model'] }] });
    teardown.defer(() => withoutKey.close());
    const rejected = await postJson(`${withoutKey.url}/v1/chat/completions`, chat());
    expect(rejected.status).toBe(401);
    expect(errorOf(rejected.text)).toEqual({ message: 'Unauthorized', type: 'invalid_request_error', param: null, code: null });

    const withKey = await startTestGateway({ replicas: [{ url: simulator.url, models: ['test-model'], apiKey: 'replica-secret' }] });
    teardown.defer(() => withKey.close());
    expect((await postJson(`${withKey.url}/v1/chat/completions`, chat())).status).toBe(200);
  });
});

describe('failures after a stream has started', () => {
  it('an upstream disconnect mid-stream becomes an in-band error frame, then [DONE], and the SDK raises it', async () => {
    const { gateway } = await teardown.fleet({ simulator: { interTokenMs: 2 } });
    const raw = await postJson(`${gateway.url}/v1/chat/completions`, chat({ stream: true, max_tokens: 50 }), {
      'x-sim-fault': 'disconnect:3',
      'x-request-id': 'cut-stream',
    });
    expect(raw.status).toBe(200);
    const frames = raw.text.split('\n\n').filter((frame) => frame !== '');
    expect(frames.at(-1)).toBe('data: [DONE]');
    const errorFrame = JSON.parse(frames.at(-2)!.slice('data: '.length)) as { error: { code: string } };
    // Not "closed the connection before it answered": it had answered, and the stream was cut.
    expect(errorFrame.error.code).toBe('upstream_stream_interrupted');
    expect(frames.filter((frame) => frame.includes('"delta"')).length).toBeGreaterThanOrEqual(3);
    expect(await gateway.accessLineOf('cut-stream')).toMatchObject({ status: 200, error_code: 'upstream_stream_interrupted', stream: true });

    const sdk = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const consume = async () => {
      const stream = await sdk.chat.completions.create(
        { model: 'test-model', messages: [{ role: 'user', content: 'x' }], max_tokens: 50, stream: true },
        { headers: { 'x-sim-fault': 'disconnect:2' } },
      );
      for await (const chunk of stream) void chunk;
    };
    await expect(consume()).rejects.toThrow(/stopped the stream before it was complete/);
  });

  it('a replica that stalls mid-stream is cut after the idle timeout with an in-band error', async () => {
    const { gateway } = await teardown.fleet({ simulator: { interTokenMs: 1 }, gateway: { upstream: { bodyIdleTimeoutMs: 300 } } });
    const raw = await postJson(`${gateway.url}/v1/chat/completions`, chat({ stream: true }), { 'x-sim-fault': 'hang-body:2' });
    expect(raw.text).toMatch(/data: \{"error":\{"message":"The replica stopped sending the stream\.","type":"server_error","param":null,"code":"upstream_timeout"\}\}\n\ndata: \[DONE\]\n\n$/);
  });

  it('vLLM in-band errors pass through untouched', async () => {
    const { gateway, simulators } = await teardown.fleet({ simulator: { interTokenMs: 1 } });
    const body = chat({ stream: true });
    const headers = { 'x-sim-fault': 'stream-error:2', 'x-request-id': 'inband' };
    const viaGateway = await postJson(`${gateway.url}/v1/chat/completions`, body, headers);
    const direct = await postJson(`${simulators[0]!.url}/v1/chat/completions`, body, headers);
    expect(viaGateway.text).toBe(direct.text);
    expect(viaGateway.text).toContain('data: {"error"');
  });
});
