import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningSimulator } from '../../../src/sim/index.js';
import { fastSimulator } from './sim-test-helpers.js';

describe('simulator with the official openai SDK', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await fastSimulator({ models: ['sim-a', 'sim-b'], reportCachedTokens: true });
    client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  afterAll(async () => sim.close());

  it('streams a chat completion with include_usage that matches the ground truth', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'sim-a',
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 12,
      })
      .withResponse();
    const requestId = response.headers.get('x-request-id') ?? '';
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);
    let text = '';
    let roles = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of data) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (choice === undefined) continue;
      if (choice.delta.role === 'assistant') roles++;
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    const truth = await sim.truth.waitFor(requestId, 5000);
    expect(roles).toBe(1);
    expect(text.length).toBeGreaterThan(0);
    expect(finish === 'stop' || finish === 'length').toBe(true);
    expect(usage?.completion_tokens).toBe(truth.completionTokens);
    expect(usage?.prompt_tokens).toBe(truth.promptTokens);
    expect(usage?.total_tokens).toBe(truth.promptTokens + truth.completionTokens);
    expect(usage?.prompt_tokens_details?.cached_tokens).toBe(truth.cachedPromptTokens);
    expect(truth.outcome).toBe('completed');
    expect(truth.chunkTimes).toHaveLength(truth.tokensPerChunkWritten.length);
    expect(truth.tokensPerChunkWritten.reduce((a, b) => a + b, 0)).toBe(truth.completionTokens);
  });

  it('answers non-streaming chat, completions, embeddings and models', async () => {
    const chat = await client.chat.completions.create({ model: 'sim-b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    expect(chat.object).toBe('chat.completion');
    expect(chat.model).toBe('sim-b');
    expect(chat.choices[0]?.finish_reason).toBe('length');
    expect(chat.usage?.completion_tokens).toBe(3);

    const completion = await client.completions.create({ model: 'sim-a', prompt: 'Once upon a time', max_tokens: 5 });
    expect(completion.object).toBe('text_completion');
    expect(completion.usage?.completion_tokens).toBe(5);

    const completionStream = await client.completions.create({ model: 'sim-a', prompt: ['a', 'b'], max_tokens: 2, stream: true });
    const indexes = new Set<number>();
    for await (const chunk of completionStream) for (const c of chunk.choices) indexes.add(c.index);
    expect([...indexes].sort()).toEqual([0, 1]);

    const embeddings = await client.embeddings.create({ model: 'sim-a', input: ['one', 'two'] });
    expect(embeddings.data).toHaveLength(2);
    expect(embeddings.data[0]?.embedding).toHaveLength(32);

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['sim-a', 'sim-b']);
    expect(models.data[0]?.owned_by).toBe('vllm');
  });

  it('raises an SDK error for an in-band stream error and for an unknown model', async () => {
    const stream = await client.chat.completions.create(
      { model: 'sim-a', messages: [{ role: 'user', content: 'x' }], stream: true, max_tokens: 10 },
      { headers: { 'x-sim-fault': 'stream-error:2' } },
    );
    const consume = async (): Promise<void> => {
      for await (const chunk of stream) void chunk;
    };
    await expect(consume()).rejects.toThrow(/Simulated engine failure/);
    await expect(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 404,
    });
  });
});
