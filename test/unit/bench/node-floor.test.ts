import { resolve } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, stopCli, type CliProcess } from '../../helpers/cli.js';
import { freePorts } from '../../helpers/free-ports.js';
import { startSimulatorProcess, type SimulatorProcess } from '../../helpers/processes.js';

/**
 * The peer benchmark's Node floor (test/bench/peers/node-floor.ts), built, in front of the
 * simulator (built CLI), both real processes on loopback. The seeded simulator sends the same
 * bytes for the same x-request-id, so what comes through the floor must equal what comes direct.
 */
const NODE_FLOOR = resolve('dist/test/bench/peers/node-floor.js');
const started: CliProcess[] = [];
let simulator: SimulatorProcess;
let floorUrl: string;

async function startFloor(upstream: string): Promise<string> {
  const floor = runCli(['--port', '0', '--upstream', upstream], {}, NODE_FLOOR);
  started.push(floor);
  const line = await floor.waitForLine(/node floor listening on /, 15_000);
  return /listening on (\S+)/.exec(line)![1]!;
}

beforeAll(async () => {
  simulator = await startSimulatorProcess({ models: ['test-model'], seed: 7, interTokenMs: 1, prefillBaseMs: 1 });
  floorUrl = await startFloor(simulator.url);
});
afterAll(async () => {
  await Promise.all(started.map((floor) => stopCli(floor)));
  await simulator?.stop();
});

const sdk = (baseURL: string): OpenAI => new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
const MESSAGES = [{ role: 'user' as const, content: 'Say something about toll booths.' }];

describe('the node floor proxy', () => {
  it('relays a non-streamed chat intact (the official SDK)', async () => {
    const request = { model: 'test-model', messages: MESSAGES, max_tokens: 12 };
    const options = { headers: { 'x-request-id': 'floor-plain' } };
    const viaFloor = await sdk(floorUrl).chat.completions.create(request, options);
    const viaDirect = await sdk(simulator.url).chat.completions.create(request, options);
    expect(viaFloor.choices[0]!.message.content).not.toBe('');
    expect(viaFloor.usage).toMatchObject({ completion_tokens: 12 });
    expect(viaFloor).toEqual(viaDirect);
  });

  it('relays a stream intact: every chunk, the usage chunk and [DONE]', async () => {
    const request = { model: 'test-model', messages: MESSAGES, max_tokens: 12, stream: true as const, stream_options: { include_usage: true } };
    const collect = async (baseURL: string): Promise<OpenAI.Chat.Completions.ChatCompletionChunk[]> => {
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of await sdk(baseURL).chat.completions.create(request, { headers: { 'x-request-id': 'floor-stream' } })) chunks.push(chunk);
      return chunks;
    };
    const viaFloor = await collect(floorUrl);
    expect(viaFloor).toEqual(await collect(simulator.url));
    const content = viaFloor.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(content).not.toBe('');
    expect(viaFloor.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 12 } });

    // The SDK hides [DONE]: the raw bytes show it, and equal the simulator's own.
    const raw = async (baseURL: string): Promise<string> => {
      const response = await fetch(`${baseURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'floor-stream' },
        body: JSON.stringify(request),
      });
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      return response.text();
    };
    const text = await raw(floorUrl);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text).toBe(await raw(simulator.url));
  });

  it('aborts the upstream request when the client goes away', async () => {
    const controller = new AbortController();
    const response = await fetch(`${floorUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'floor-gone', 'x-sim-tokens': '200', 'x-sim-itl-ms': '50' },
      body: JSON.stringify({ model: 'test-model', messages: MESSAGES, max_tokens: 200, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    const truth = await simulator.truth('floor-gone', 15_000);
    expect(truth.outcome).toBe('client_closed');
    expect(truth.completionTokens).toBeLessThan(200);
  });

  it('answers 502 when the upstream is down', async () => {
    const [closedPort] = await freePorts(1);
    const orphan = await startFloor(`http://127.0.0.1:${closedPort}`);
    const failure = await sdk(orphan)
      .chat.completions.create({ model: 'test-model', messages: MESSAGES })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
  });
});
