import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { postJson } from '../../helpers/fleet.js';
import { startGatewayProcess, type GatewayProcess } from '../../helpers/processes.js';

/**
 * What used to kill the process after the response had been sent, tried against the built CLI
 * in a child process (a crash of an in-process gateway would take the test worker with it).
 */

const MODEL = 'm';
const DEPTH = 100_000;
/** `{"model":"m","input":[[[…]]]}`, nested DEPTH arrays deep. */
const DEEP_TOKENIZE_BODY = `{"model":"${MODEL}","input":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`;

/** What the replica answers: a usage that is no token count, as JSON and as a stream. */
const BAD_USAGE = { prompt_tokens: 3.5, completion_tokens: 2, total_tokens: 5.5 };
const CHAT_BODY = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi there' }, finish_reason: 'stop' }],
  usage: BAD_USAGE,
});
const chunk = (fields: Record<string, unknown>): string => `data: ${JSON.stringify({ id: 'chatcmpl-2', object: 'chat.completion.chunk', created: 1, model: MODEL, ...fields })}\n\n`;
const STREAM_BODY =
  chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'hi' }, finish_reason: null }] }) +
  chunk({ choices: [{ index: 0, delta: { content: ' there' }, finish_reason: 'stop' }] }) +
  chunk({ choices: [], usage: BAD_USAGE }) +
  'data: [DONE]\n\n';

interface RawReplica {
  readonly url: string;
  close(): Promise<void>;
}

/** A replica written by hand with node:http: it answers what it is told to, whatever vLLM would say. */
async function startRawReplica(): Promise<RawReplica> {
  const answer = (request: IncomingMessage, body: string, response: ServerResponse): void => {
    const json = (status: number, text: string): void => void response.writeHead(status, { 'content-type': 'application/json' }).end(text);
    if (request.method === 'GET' && request.url === '/health') return json(200, '');
    if (request.method === 'GET' && request.url === '/v1/models') return json(200, JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', owned_by: 'vllm' }] }));
    if (request.method === 'GET' && request.url === '/metrics') return void response.writeHead(200, { 'content-type': 'text/plain' }).end('');
    if (request.url === '/tokenize') return json(200, JSON.stringify({ count: 3, max_model_len: 4096, tokens: [1, 2, 3] }));
    if (request.url === '/v1/chat/completions') {
      if ((JSON.parse(body) as { stream?: boolean }).stream === true) return void response.writeHead(200, { 'content-type': 'text/event-stream' }).end(STREAM_BODY);
      return json(200, CHAT_BODY);
    }
    json(404, JSON.stringify({ error: { message: 'not here', type: 'NotFoundError', param: null, code: 404 } }));
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (part: Buffer) => chunks.push(part));
    request.on('end', () => answer(request, Buffer.concat(chunks).toString('utf8'), response));
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gatewayBefore(replica: RawReplica, config: Partial<TollboothConfigInput>): Promise<GatewayProcess> {
  const gateway = await startGatewayProcess({ replicas: [{ name: 'raw', url: replica.url, models: [MODEL] }], ...config });
  cleanups.push(() => gateway.stop());
  return gateway;
}

async function rawReplica(): Promise<RawReplica> {
  const replica = await startRawReplica();
  cleanups.push(() => replica.close());
  return replica;
}

/** The process is alive and still serves: its telemetry for the request ran (the access line) and a new request is answered. */
async function expectStillServing(gateway: GatewayProcess, requestId: string): Promise<Record<string, unknown>> {
  const line = await gateway.accessLineOf(requestId, 15_000);
  expect(gateway.running()).toBe(true);
  expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
  expect(gateway.running()).toBe(true);
  return line;
}

describe('nothing after the response crashes the gateway', () => {
  it('answers a POST /tokenize nested 100,000 arrays deep and keeps serving (auth off)', async () => {
    const gateway = await gatewayBefore(await rawReplica(), {});
    const answer = await postJson(`${gateway.url}/tokenize`, DEEP_TOKENIZE_BODY, { 'x-request-id': 'deep-tokenize' });
    expect(answer.status).toBe(200);
    const line = await expectStillServing(gateway, 'deep-tokenize');
    expect(line.tokens_source).toBe('estimated');
  }, 60_000);

  it('does not answer the same body with a 500 when auth reserves tokens for it', async () => {
    const secret = generateApiKey();
    const gateway = await gatewayBefore(await rawReplica(), { auth: { enabled: true, keys: [{ id: 'deep', hash: hashApiKey(secret) }] } });
    const answer = await postJson(`${gateway.url}/tokenize`, DEEP_TOKENIZE_BODY, { authorization: `Bearer ${secret}`, 'x-request-id': 'deep-reserved' });
    expect(answer.status).toBe(200);
    await expectStillServing(gateway, 'deep-reserved');
    expect(gateway.stdout()).not.toContain('Maximum call stack size exceeded');
  }, 60_000);

  describe('a replica whose usage says "prompt_tokens": 3.5, with token prices for the model', () => {
    const priced: Partial<TollboothConfigInput> = { cost: { currency: 'USD', tokenPrices: { [MODEL]: { input: 1, output: 2 } } } };

    it('relays the JSON answer as sent, estimates the tokens and keeps serving', async () => {
      const gateway = await gatewayBefore(await rawReplica(), priced);
      const answer = await postJson(`${gateway.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(40) }] }, { 'x-request-id': 'bad-usage-json' });
      expect(answer.status).toBe(200);
      expect(answer.text).toBe(CHAT_BODY);
      const line = await expectStillServing(gateway, 'bad-usage-json');
      expect(line).toMatchObject({ tokens_source: 'estimated', input_tokens: 10, cost_basis: 'tokens' });
    }, 60_000);

    it('relays the stream as sent, estimates the tokens and keeps serving', async () => {
      const gateway = await gatewayBefore(await rawReplica(), priced);
      const request = { model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x'.repeat(40) }] };
      const answer = await postJson(`${gateway.url}/v1/chat/completions`, request, { 'x-request-id': 'bad-usage-stream' });
      expect(answer.status).toBe(200);
      expect(answer.text).toBe(STREAM_BODY);
      const line = await expectStillServing(gateway, 'bad-usage-stream');
      expect(line).toMatchObject({ tokens_source: 'estimated', input_tokens: 10, cost_basis: 'tokens' });
    }, 60_000);
  });
});
