import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startFleet, type TestFleet } from '../../helpers/fleet.js';

/**
 * The drop-in promise: a client that points its base_url at Tollbooth gets byte for byte what
 * the replica would have given it. Every comparison sends the same seeded request (same body,
 * same x-request-id) once directly and once through the gateway.
 */
let fleet: TestFleet;
let direct: string;
let gateway: string;

beforeAll(async () => {
  fleet = await startFleet({ replicas: 1, simulator: { interTokenMs: 1, prefillBaseMs: 2 }, gateway: { passthrough: { paths: ['/v1/files'] } } });
  direct = fleet.simulators[0]!.url;
  gateway = fleet.gateway.url;
});
afterAll(() => fleet.close());

async function sameBytes(path: string, body: unknown, requestId: string) {
  const viaDirect = await postJson(direct + path, body, { 'x-request-id': requestId });
  const viaGateway = await postJson(gateway + path, body, { 'x-request-id': requestId });
  expect(viaGateway.status).toBe(viaDirect.status);
  expect(viaGateway.text).toBe(viaDirect.text);
  expect(viaGateway.headers.get('content-type')).toBe(viaDirect.headers.get('content-type'));
  expect(viaGateway.headers.get('x-request-id')).toBe(requestId);
  return viaGateway;
}

describe('byte-for-byte pass-through', () => {
  const messages = [{ role: 'user', content: 'Tell me about gateways.' }];

  it('chat completion, not streamed', async () => {
    const response = await sameBytes('/v1/chat/completions', { model: 'test-model', messages, max_tokens: 12 }, 'parity-chat');
    expect(JSON.parse(response.text)).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 12 } });
  });

  it('chat completion, streamed, with and without include_usage', async () => {
    const plain = await sameBytes('/v1/chat/completions', { model: 'test-model', messages, max_tokens: 9, stream: true }, 'parity-stream');
    expect(plain.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(plain.text).not.toContain('"usage"');
    const withUsage = await sameBytes(
      '/v1/chat/completions',
      { model: 'test-model', messages, max_tokens: 9, stream: true, stream_options: { include_usage: true } },
      'parity-stream-usage',
    );
    expect(withUsage.text).toContain('"choices":[],"usage"');
  });

  // Every way a client can spell stream_options, as raw bodies (duplicates and escapes cannot be
  // written as objects): the gateway asks the replica for usage whenever the client's own value
  // would not get it, and the client still receives what the replica sends for its own request,
  // vLLM's 400 included.
  const CHAT = '"model":"test-model","messages":[{"role":"user","content":"Tell me about gateways."}],"max_tokens":9,"stream":true';
  const COMPLETION = '"model":"test-model","prompt":"Once upon a time","max_tokens":7,"stream":true';
  it.each([
    ['absent', ''],
    ['null', ',"stream_options":null'],
    ['{}', ',"stream_options":{}'],
    ['include_usage false', ',"stream_options":{"include_usage":false}'],
    ['include_usage null', ',"stream_options":{"include_usage":null}'],
    ['include_usage "no"', ',"stream_options":{"include_usage":"no"}'],
    ['include_usage 1', ',"stream_options":{"include_usage":1}'],
    ['continuous usage', ',"stream_options":{"include_usage":true,"continuous_usage_stats":true}'],
    ['continuous usage without usage', ',"stream_options":{"include_usage":false,"continuous_usage_stats":true}'],
    ['duplicated, the last null', ',"stream_options":{"include_usage":true},"stream_options":null'],
    ['duplicated, the last asking', ',"stream_options":null,"stream_options":{"include_usage":true}'],
    ['an escaped key', ',"\\u0073tream_options":null'],
    ['an escaped duplicate', ',"stream_options":{"include_usage":true},"stream\\u005foptions":{"include\\u005fusage":false}'],
  ])('stream_options %s: the same bytes as directly, for chat and completions', async (name, streamOptions) => {
    for (const [path, fields] of [['/v1/chat/completions', CHAT], ['/v1/completions', COMPLETION]] as const) {
      const requestId = `parity-options-${path.length}-${name.replace(/\W+/g, '-')}`;
      await sameBytes(path, `{${fields}${streamOptions}}`, requestId);
      const truth = await fleet.simulators[0]!.truth.waitFor(requestId);
      expect(await fleet.gateway.accessLineOf(requestId)).toMatchObject({ tokens_source: 'exact', input_tokens: truth.promptTokens, output_tokens: truth.completionTokens });
    }
  });

  it.each([
    ['false', ',"stream_options":false'],
    ['a string', ',"stream_options":"include_usage"'],
    ['an invalid bool', ',"stream_options":{"include_usage":"maybe"}'],
    ['duplicated, the last a string', ',"stream_options":null,"stream_options":"x"'],
  ])('stream_options %s: the replica’s own 400, in the gateway’s error envelope', async (name, streamOptions) => {
    const body = `{${CHAT}${streamOptions}}`;
    const requestId = `parity-options-rejected-${name.replace(/\W+/g, '-')}`;
    const viaDirect = await postJson(direct + '/v1/chat/completions', body, { 'x-request-id': requestId });
    const viaGateway = await postJson(gateway + '/v1/chat/completions', body, { 'x-request-id': requestId });
    expect([viaDirect.status, viaGateway.status]).toEqual([400, 400]);
    const { message, param } = (JSON.parse(viaDirect.text) as { error: { message: string; param: string } }).error;
    expect(JSON.parse(viaGateway.text)).toMatchObject({ error: { message, param } });
  });

  it.each([
    ['/v1/completions', { model: 'test-model', prompt: 'Once upon a time', max_tokens: 7 }],
    ['/v1/completions', { model: 'test-model', prompt: 'Once upon a time', max_tokens: 7, stream: true }],
    ['/v1/embeddings', { model: 'test-model', input: ['a', 'b'] }],
    ['/v1/responses', { model: 'test-model', input: 'hi', max_output_tokens: 5 }],
    ['/v1/rerank', { model: 'test-model', query: 'q', documents: ['a', 'b'] }],
    ['/v1/score', { model: 'test-model', text_1: 'a', text_2: 'b' }],
    ['/tokenize', { model: 'test-model', prompt: 'Hello world' }],
    ['/detokenize', { model: 'test-model', tokens: [1, 2, 3] }],
  ])('%s %j', async (path, body) => {
    const response = await sameBytes(path, body, `parity-${path}-${JSON.stringify(body).length}`);
    expect(response.status).toBe(200);
  });

  it('a multipart audio upload is routed by its model field and passed through', async () => {
    const form = new FormData();
    form.append('model', 'test-model');
    form.append('file', new Blob([new Uint8Array(2048)]), 'speech.wav');
    const viaGateway = await fetch(`${gateway}/v1/audio/transcriptions`, { method: 'POST', body: form });
    expect(viaGateway.status).toBe(200);
    expect(await viaGateway.json()).toHaveProperty('text');
  });

  it('allow-listed paths pass through, with the replica error normalised', async () => {
    const response = await fetch(`${gateway}/v1/files`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: null } });
  });

  it('forwards an inbound x-request-id upstream and generates one otherwise', async () => {
    await postJson(`${gateway}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 1 }, { 'x-request-id': 'trace-me-123' });
    expect((await fleet.simulators[0]!.truth.waitFor('trace-me-123', 2_000))?.outcome).toBe('completed');
    const generated = await postJson(`${gateway}/v1/completions`, { model: 'test-model', prompt: 'x', max_tokens: 1 });
    const id = generated.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(fleet.simulators[0]!.truth.get(id!)).toBeDefined();
  });

  it('answers GET /v1/models with the replicas’ own model cards', async () => {
    const viaGateway = (await (await fetch(`${gateway}/v1/models`)).json()) as { object: string; data: Array<Record<string, unknown>> };
    const viaDirect = (await (await fetch(`${direct}/v1/models`)).json()) as { data: Array<Record<string, unknown>> };
    expect(viaGateway.object).toBe('list');
    expect(viaGateway.data).toEqual(viaDirect.data);
  });
});

describe('the official openai SDK through the gateway', () => {
  const client = () => new OpenAI({ baseURL: `${gateway}/v1`, apiKey: 'unused', maxRetries: 0 });

  it('streams a chat completion and sees the same text as directly', async () => {
    const request = {
      model: 'test-model',
      messages: [{ role: 'user' as const, content: 'stream please' }],
      max_tokens: 20,
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const collect = async (sdk: OpenAI) => {
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined | null;
      for await (const chunk of await sdk.chat.completions.create(request, { headers: { 'x-request-id': 'sdk-stream' } })) {
        text += chunk.choices[0]?.delta.content ?? '';
        usage = chunk.usage ?? usage;
      }
      return { text, usage };
    };
    const viaGateway = await collect(client());
    const viaDirect = await collect(new OpenAI({ baseURL: `${direct}/v1`, apiKey: 'unused', maxRetries: 0 }));
    expect(viaGateway).toEqual(viaDirect);
    expect(viaGateway.usage?.completion_tokens).toBe(20);
    expect(viaGateway.text.length).toBeGreaterThan(0);
  });

  it('creates a completion, embeddings and lists models', async () => {
    const sdk = client();
    const completion = await sdk.chat.completions.create({ model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    expect(completion.choices[0]?.message.role).toBe('assistant');
    expect(completion.usage?.completion_tokens).toBe(4);
    const embedding = await sdk.embeddings.create({ model: 'test-model', input: 'hello' });
    expect(embedding.data[0]?.embedding.length).toBeGreaterThan(0);
    const models = await sdk.models.list();
    expect(models.data.map((model) => model.id)).toEqual(['test-model']);
  });

  it('raises the OpenAI error classes for gateway errors', async () => {
    const sdk = client();
    await expect(sdk.chat.completions.create({ model: 'no-such-model', messages: [] })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
    });
    await expect(sdk.chat.completions.create({ model: 'no-such-model', messages: [] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
