import { afterEach, describe, expect, it } from 'vitest';

import type { RunningSimulator } from '../../../src/sim/index.js';
import { chatBody, fastSimulator, postJson } from './sim-test-helpers.js';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('auxiliary endpoints', () => {
  it('serves health, version, models, tokenize and detokenize', async () => {
    sim = await fastSimulator({ maxModelLen: 2048 });
    const health = await fetch(`${sim.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('');
    expect(await (await fetch(`${sim.url}/version`)).json()).toEqual({ version: '0.11.0' });
    const models = (await (await fetch(`${sim.url}/v1/models`)).json()) as { object: string; data: Array<Record<string, unknown>> };
    expect(models.object).toBe('list');
    expect(Object.keys(models.data[0] ?? {})).toEqual(['id', 'object', 'created', 'owned_by', 'root', 'parent', 'max_model_len', 'permission']);
    const tokenized = (await (await postJson(sim, '/tokenize', { prompt: 'Hello world' })).json()) as { count: number; max_model_len: number; tokens: number[] };
    expect(tokenized.max_model_len).toBe(2048);
    expect(tokenized.count).toBe(tokenized.tokens.length);
    expect(await (await postJson(sim, '/detokenize', { tokens: tokenized.tokens })).json()).toEqual({ prompt: 'Hello world' });
    const chatTokens = (await (await postJson(sim, '/tokenize', { messages: [{ role: 'user', content: 'hi' }] })).json()) as { count: number };
    const chat = (await (await postJson(sim, '/v1/chat/completions', chatBody({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }))).json()) as { usage: { prompt_tokens: number } };
    expect(chat.usage.prompt_tokens).toBe(chatTokens.count);
  });

  it('serves responses, rerank, score, embeddings (base64) and transcriptions', async () => {
    sim = await fastSimulator();
    const response = (await (await postJson(sim, '/v1/responses', { input: 'hi', max_output_tokens: 4 })).json()) as { object: string; output: Array<{ content: Array<{ text: string }> }> };
    expect(response.object).toBe('response');
    expect(response.output[0]?.content[0]?.text.length).toBeGreaterThan(0);
    const rerank = (await (await postJson(sim, '/v1/rerank', { query: 'prefix cache', documents: ['the weather', 'prefix cache hits'] })).json()) as { results: Array<{ index: number }> };
    expect(rerank.results[0]?.index).toBe(1);
    const score = (await (await postJson(sim, '/v1/score', { text_1: 'a', text_2: ['a', 'b'] })).json()) as { data: Array<{ score: number }> };
    expect(score.data).toHaveLength(2);
    const embeddings = (await (await postJson(sim, '/v1/embeddings', { input: 'x', encoding_format: 'base64' })).json()) as { data: Array<{ embedding: string }> };
    expect(Buffer.from(embeddings.data[0]?.embedding ?? '', 'base64')).toHaveLength(32 * 4);
    const form = new FormData();
    form.append('model', 'tollbooth-sim-model');
    form.append('file', new Blob([new Uint8Array(4096)]), 'audio.wav');
    const transcription = await fetch(`${sim.url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    expect(transcription.status).toBe(200);
    expect(((await transcription.json()) as { text: string }).text.length).toBeGreaterThan(0);
  });

  it('exposes vLLM metric names and the truth over HTTP', async () => {
    sim = await fastSimulator();
    await (await postJson(sim, '/v1/chat/completions', chatBody({ stream: true }), { 'x-request-id': 'm1' })).text();
    await sim.truth.waitFor('m1', 2000);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    for (const name of [
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
      'vllm:request_success_total',
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:inter_token_latency_seconds_bucket',
      'vllm:e2e_request_latency_seconds_bucket',
      'vllm:request_queue_time_seconds_bucket',
      'vllm:request_prompt_tokens_bucket',
      'vllm:request_generation_tokens_bucket',
    ]) {
      expect(metrics).toContain(`${name}{`);
    }
    expect(metrics).toContain('vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="tollbooth-sim-model",engine="0"}');
    const one = (await (await fetch(`${sim.url}/sim/truth/m1`)).json()) as { outcome: string; endpoint: string };
    expect(one).toMatchObject({ outcome: 'completed', endpoint: '/v1/chat/completions' });
    const all = (await (await fetch(`${sim.url}/sim/truth`)).json()) as unknown[];
    expect(all).toHaveLength(1);
    expect((await fetch(`${sim.url}/sim/truth/unknown`)).status).toBe(404);
  });
});

describe('errors in vLLM style', () => {
  it('rejects bad requests like vLLM', async () => {
    sim = await fastSimulator({ maxModelLen: 64 });
    const badJson = await postJson(sim, '/v1/chat/completions', '{not json', { 'x-request-id': 'bad' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { type: string } }).error.type).toBe('BadRequestError');
    expect((await sim.truth.waitFor('bad', 1000)).outcome).toBe('error');
    const unknown = await postJson(sim, '/v1/chat/completions', chatBody({ model: 'x' }));
    expect(await unknown.json()).toEqual({ error: { message: 'The model `x` does not exist.', type: 'NotFoundError', param: 'model', code: 404 } });
    const tooLong = await postJson(sim, '/v1/completions', { prompt: 'word '.repeat(100) });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: { message: string } }).error.message).toContain('maximum context length is 64 tokens');
    const route = await fetch(`${sim.url}/v1/nothing`);
    expect(route.status).toBe(404);
    expect(await route.json()).toEqual({ detail: 'Not Found' });
    expect((await fetch(`${sim.url}/v1/chat/completions`)).status).toBe(405);
  });

  it('refuses more choices than the engine could ever run at once (an n of 2^31 - 1 once exhausted the heap of the process hosting it)', async () => {
    sim = await fastSimulator({ maxRunning: 8 });
    for (const path of ['/v1/chat/completions', '/v1/completions']) {
      const huge = await postJson(sim, path, path === '/v1/completions' ? { prompt: 'hi', n: 2_147_483_647 } : chatBody({ n: 2_147_483_647 }));
      expect(huge.status).toBe(400);
      expect(((await huge.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: 'n', message: expect.stringContaining('at most 8') });
    }
    expect((await postJson(sim, '/v1/chat/completions', chatBody({ n: 8 }))).status).toBe(200);
  });

  it('requires the API key on /v1 only, answering exactly like vLLM', async () => {
    sim = await fastSimulator({ apiKey: 'secret' });
    const denied = await postJson(sim, '/v1/chat/completions', chatBody());
    expect(denied.status).toBe(401);
    expect(await denied.text()).toBe('{"error":"Unauthorized"}');
    expect((await postJson(sim, '/v1/chat/completions', chatBody(), { authorization: 'Bearer secret' })).status).toBe(200);
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
  });
});
