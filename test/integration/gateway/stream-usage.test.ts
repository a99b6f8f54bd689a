import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startFleet, type TestFleet } from '../../helpers/fleet.js';

/**
 * Exact tokens whatever stream_options the client sends. A long CJK prompt makes the difference
 * plain: the characters-a-token estimate counts 3,000 CJK characters as 750 tokens, the replica
 * counts about one a character. Each request is sent once straight to the simulator and once
 * through the gateway with the same x-request-id (the seeded simulator then sends the same
 * bytes); the access-log line must carry the simulator's own counts, labelled exact.
 */
let fleet: TestFleet;
let direct: string;
let gateway: string;

beforeAll(async () => {
  fleet = await startFleet({ replicas: 1, simulator: { interTokenMs: 0, prefillBaseMs: 1, prefillPerTokenMs: 0, maxModelLen: 16_384 } });
  direct = fleet.simulators[0]!.url;
  gateway = fleet.gateway.url;
});
afterAll(() => fleet.close());

const CJK_PROMPT = '网关必须准确计算每一个令牌。'.repeat(215); // 3,010 characters
const CHAT_FIELDS = `"model":"test-model","messages":[{"role":"user","content":"${CJK_PROMPT}"}],"max_tokens":24,"stream":true`;

async function expectExactTokens(requestId: string) {
  const truth = await fleet.simulators[0]!.truth.waitFor(requestId);
  const line = await fleet.gateway.accessLineOf(requestId);
  expect(truth.promptTokens).toBeGreaterThan(CJK_PROMPT.length / 2); // far above the 753 of the estimate
  expect(line).toMatchObject({
    outcome: 'success',
    tokens_source: 'exact',
    input_tokens: truth.promptTokens,
    output_tokens: truth.completionTokens,
  });
}

describe('stream usage for a client that asks for none', () => {
  it.each([
    ['null', `{${CHAT_FIELDS},"stream_options":null}`],
    ['include_usage null', `{${CHAT_FIELDS},"stream_options":{"include_usage":null}}`],
    ['a duplicate, the last null', `{"stream_options":{"include_usage":true},${CHAT_FIELDS},"stream_options":null}`],
    ['a duplicate, the last false', `{${CHAT_FIELDS},"stream_options":{"include_usage":true},"stream_options":{"include_usage":false}}`],
    ['an escaped duplicate', `{"stream_options":{"include_usage":true},${CHAT_FIELDS},"\\u0073tream_options":null}`],
  ])('raw fetch, stream_options %s: the client bytes unchanged, tokens exact', async (name, body) => {
    const requestId = `usage-raw-${name.replace(/\W+/g, '-')}`;
    const viaDirect = await postJson(`${direct}/v1/chat/completions`, body, { 'x-request-id': requestId });
    const viaGateway = await postJson(`${gateway}/v1/chat/completions`, body, { 'x-request-id': requestId });
    expect(viaGateway.status).toBe(200);
    expect(viaGateway.text).toBe(viaDirect.text);
    expect(viaGateway.text).not.toContain('"usage"');
    await expectExactTokens(requestId);
  });

  it('the official openai SDK with stream_options: null', async () => {
    const request = {
      model: 'test-model',
      messages: [{ role: 'user' as const, content: CJK_PROMPT }],
      max_tokens: 24,
      stream: true as const,
      stream_options: null,
    };
    const collect = async (baseURL: string) => {
      const sdk = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const chunks: unknown[] = [];
      for await (const chunk of await sdk.chat.completions.create(request, { headers: { 'x-request-id': 'usage-sdk-null' } })) chunks.push(chunk);
      return chunks;
    };
    const viaDirect = await collect(direct);
    const viaGateway = await collect(gateway);
    expect(viaGateway).toEqual(viaDirect);
    expect(viaGateway.some((chunk) => (chunk as { usage?: unknown }).usage !== undefined)).toBe(false);
    await expectExactTokens('usage-sdk-null');
  });
});

describe('the output estimate when usage never comes', () => {
  it('counts the text of a stream cut before its usage, not one token per content event', async () => {
    // Eight tokens per chunk and the replica gone after five chunks: no usage event ever comes.
    const multi = await startFleet({ replicas: 1, simulator: { interTokenMs: 20, prefillBaseMs: 1, tokensPerChunk: 8 } });
    try {
      const response = await postJson(
        `${multi.gateway.url}/v1/chat/completions`,
        { model: 'test-model', messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: 200, stream: true },
        { 'x-request-id': 'usage-cut', 'x-sim-fault': 'disconnect:5', 'x-sim-tokens': '200' },
      );
      const texts = response.text
        .split('\n\n')
        .filter((event) => event.startsWith('data: {'))
        .map((event) => JSON.parse(event.slice('data: '.length)) as { choices?: Array<{ delta?: { content?: string } }> })
        .map((chunk) => chunk.choices?.[0]?.delta?.content ?? '')
        .filter((text) => text.length > 0);
      const characters = texts.reduce((sum, text) => sum + text.length, 0);
      const line = await multi.gateway.accessLineOf('usage-cut');
      const truth = await multi.simulators[0]!.truth.waitFor('usage-cut');
      expect(truth.fault).toBe('disconnect:5');
      expect(texts.length).toBeGreaterThanOrEqual(1);
      expect(line.tokens_source).toBe('estimated');
      expect(line.output_tokens).toBe(Math.max(texts.length, Math.ceil(characters / 4)));
      // Well above one token per content event, which is what the estimate used to say.
      expect(line.output_tokens as number).toBeGreaterThan(texts.length * 2);
    } finally {
      await multi.close();
    }
  });
});
