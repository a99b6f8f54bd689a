import { request } from 'node:http';

import { afterEach, describe, expect, it } from 'vitest';

import type { RunningSimulator } from '../../../src/sim/index.js';
import { chatBody, eventually, fastSimulator, postJson, sseData } from './sim-test-helpers.js';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('determinism', () => {
  it('gives byte-identical bodies for identical requests under a seed', async () => {
    sim = await fastSimulator({ seed: 1234 });
    const stream = chatBody({ stream: true, stream_options: { include_usage: true } });
    const [a, b] = [await (await postJson(sim, '/v1/chat/completions', stream)).text(), await (await postJson(sim, '/v1/chat/completions', stream)).text()];
    expect(a).toBe(b);
    expect(sseData(a).at(-1)).toBe('[DONE]');
    const plain = chatBody();
    const c = await (await postJson(sim, '/v1/chat/completions', plain)).text();
    const d = await (await postJson(sim, '/v1/chat/completions', plain)).text();
    expect(c).toBe(d);
    const other = await (await postJson(sim, '/v1/chat/completions', chatBody({ seed: 99 }))).text();
    expect(other).not.toBe(c);
  });
});

describe('streaming shape', () => {
  it('sends vLLM headers, role chunk, content chunks, final chunk, usage and [DONE]', async () => {
    sim = await fastSimulator({ tokensPerChunk: 3 });
    const res = await postJson(sim, '/v1/chat/completions', chatBody({ stream: true, stream_options: { include_usage: true } }), {
      'x-request-id': 'shape-1',
      'x-sim-tokens': '8',
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('x-request-id')).toBe('shape-1');
    const frames = sseData(await res.text());
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f) as { id: string; choices: Array<{ delta: Record<string, string>; finish_reason: string | null }>; usage?: Record<string, number> });
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks[0]?.id).toBe('chatcmpl-shape-1');
    const content = chunks.slice(1, -1);
    expect(content).toHaveLength(3); // 8 tokens in chunks of 3, 3, 2
    expect(content.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.['completion_tokens']).toBe(8);
    const truth = await sim.truth.waitFor('shape-1', 2000);
    expect(truth.tokensPerChunkWritten).toEqual([3, 3, 2]);
  });

  it('adds usage to every chunk with continuous_usage_stats', async () => {
    sim = await fastSimulator();
    const res = await postJson(sim, '/v1/completions', { prompt: 'abc', max_tokens: 4, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } });
    const frames = sseData(await res.text()).slice(0, -1).map((f) => JSON.parse(f) as { usage?: { completion_tokens: number } });
    expect(frames.map((f) => f.usage?.completion_tokens)).toEqual([1, 2, 3, 4, 4]);
  });

  it('reads stream_options as vLLM does: include_usage defaults to true, null is off, lax bools, 400 for the rest', async () => {
    sim = await fastSimulator();
    const usageOf = async (streamOptions: string) => {
      const res = await postJson(sim!, '/v1/completions', `{"prompt":"abc","max_tokens":3,"stream":true,"stream_options":${streamOptions}}`);
      if (res.status !== 200) return res.status;
      const frames = sseData(await res.text()).slice(0, -1).map((f) => JSON.parse(f) as { choices: unknown[]; usage?: unknown });
      const continuous = frames.filter((frame) => frame.choices.length > 0 && frame.usage !== undefined).length;
      return frames.at(-1)!.choices.length === 0 ? (continuous > 0 ? 'continuous' : 'usage') : continuous > 0 ? 'continuous only' : 'none';
    };
    expect(await usageOf('{}')).toBe('usage');
    expect(await usageOf('null')).toBe('none');
    expect(await usageOf('{"include_usage":null}')).toBe('none');
    expect(await usageOf('{"include_usage":"yes"}')).toBe('usage');
    expect(await usageOf('{"include_usage":0}')).toBe('none');
    expect(await usageOf('{"continuous_usage_stats":true}')).toBe('continuous');
    expect(await usageOf('{"include_usage":false,"continuous_usage_stats":true}')).toBe('none');
    for (const rejected of ['false', '"x"', '[]', '{"include_usage":"maybe"}', '{"include_usage":2}']) expect(await usageOf(rejected)).toBe(400);
  });

  it('handles a large unpaced stream with backpressure and writes one chunk per token', async () => {
    sim = await fastSimulator({ interTokenMs: 0, maxModelLen: 100_000 });
    const res = await postJson(sim, '/v1/completions', { prompt: 'go', max_tokens: 20_000, ignore_eos: true, stream: true }, { 'x-request-id': 'big' });
    const frames = sseData(await res.text());
    expect(frames).toHaveLength(20_001);
    const truth = await sim.truth.waitFor('big', 10_000);
    expect(truth.chunkTimes).toHaveLength(20_000);
    expect(truth.finishReason).toBe('length');
  });
});

describe('prefix cache', () => {
  it('makes a repeated long prefix faster and reports cached tokens', async () => {
    sim = await fastSimulator({ prefillPerTokenMs: 0.5, reportCachedTokens: true });
    const longText = Array.from({ length: 800 }, (_, i) => `word${i}`).join(' ');
    const ask = async (id: string, question: string): Promise<{ cached: number; ttft: number }> => {
      const res = await postJson(sim as RunningSimulator, '/v1/chat/completions', chatBody({ messages: [{ role: 'system', content: longText }, { role: 'user', content: question }], max_tokens: 2 }), { 'x-request-id': id });
      const body = (await res.json()) as { usage: { prompt_tokens_details: { cached_tokens: number } } };
      const truth = await (sim as RunningSimulator).truth.waitFor(id, 5000);
      return { cached: body.usage.prompt_tokens_details.cached_tokens, ttft: (truth.firstTokenAt ?? 0) - truth.receivedAt };
    };
    const first = await ask('p1', 'first question');
    const second = await ask('p2', 'second question');
    expect(first.cached).toBe(0);
    expect(second.cached).toBeGreaterThan(1000);
    expect(second.ttft).toBeLessThan(first.ttft - 200);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toMatch(/vllm:prefix_cache_hits_total\{model_name="tollbooth-sim-model",engine="0"\} [1-9]/);
  });
});

describe('client abort', () => {
  it('records client_closed, stops generating and frees the socket', async () => {
    sim = await fastSimulator({ interTokenMs: 50 });
    // node:http without an agent: exactly one socket, so the connection count is unambiguous
    // (undici's fetch opens a spare connection after an abort).
    const req = request(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      agent: false,
      headers: { 'x-request-id': 'abort-1', 'x-sim-tokens': '200' },
    });
    req.on('error', () => undefined);
    const firstData = new Promise<void>((resolve) => req.on('response', (res) => res.once('data', () => resolve())));
    req.end(JSON.stringify(chatBody({ stream: true })));
    await firstData;
    expect(await sim.openConnections()).toBe(1);
    req.destroy();
    const truth = await sim.truth.waitFor('abort-1', 5000);
    expect(truth.outcome).toBe('client_closed');
    expect(truth.clientClosedAt).toBeGreaterThan(truth.receivedAt);
    const written = truth.chunkTimes.length;
    expect(written).toBeLessThan(200);
    await eventually(async () => (await (sim as RunningSimulator).openConnections()) === 0);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(truth.chunkTimes.length).toBe(written);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toContain('vllm:request_success_total{model_name="tollbooth-sim-model",engine="0",finished_reason="abort"} 1');
  });
});

describe('queueing', () => {
  it('queues beyond maxRunning and reports waiting requests', async () => {
    sim = await fastSimulator({ maxRunning: 1, interTokenMs: 20 });
    const first = postJson(sim, '/v1/chat/completions', chatBody(), { 'x-request-id': 'q1', 'x-sim-tokens': '10' });
    const second = postJson(sim, '/v1/chat/completions', chatBody(), { 'x-request-id': 'q2', 'x-sim-tokens': '2' });
    await eventually(async () => /vllm:num_requests_waiting\{[^}]*\} 1/.test(await (await fetch(`${(sim as RunningSimulator).url}/metrics`)).text()));
    await Promise.all([first, second]);
    const [t1, t2] = [await sim.truth.waitFor('q1', 5000), await sim.truth.waitFor('q2', 5000)];
    // The second request could only start once the first had finished.
    expect(t2.firstTokenAt ?? 0).toBeGreaterThanOrEqual(t1.finishedAt ?? Infinity);
  });
});
