import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { redisReady } from '../../../src/redis/client.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { runCli, type CliProcess } from '../../helpers/cli.js';
import { teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { useRedisServer } from '../../helpers/redis-server.js';

const teardown = teardownAfterEach();

/** A stream far longer than the drain timeout: 2,000 tokens, one every 50 ms. */
const LONG_STREAM = { interTokenMs: 50, tokens: 2_000 };
const DRAIN_TIMEOUT_MS = 300;

function writeConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-drain-')), 'tollbooth.yaml');
  writeFileSync(file, text);
  return file;
}

async function simulator(): Promise<RunningSimulator> {
  const running = await startSimulator({ models: ['test-model'], interTokenMs: LONG_STREAM.interTokenMs, prefillBaseMs: 1 });
  teardown.defer(() => running.close());
  return running;
}

async function startGateway(config: string): Promise<{ cli: CliProcess; url: string }> {
  const cli = runCli(['start', '--config', writeConfig(config)], { TOLLBOOTH_ADMIN_PORT: '0' });
  teardown.defer(async () => cli.child.kill('SIGKILL'));
  const url = (JSON.parse(await cli.waitForLine(/tollbooth is listening/)) as { url: string }).url;
  return { cli, url };
}

/** Starts a request and resolves once its response has begun (for a stream: its first frame). */
async function begin(url: string, requestId: string, options: { stream: boolean; headers?: Record<string, string> }) {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'x-sim-tokens': String(LONG_STREAM.tokens), ...options.headers },
    body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'x' }], max_tokens: LONG_STREAM.tokens, stream: options.stream }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  if (options.stream) {
    while (!text.includes('"content"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  })();
  return { response, rest };
}

/** A request that waits for its headers: vLLM answers a non-stream only when it is generated. */
async function beginWaitingForHeaders(url: string, requestId: string, headers: Record<string, string> = {}) {
  const response = fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'x-sim-tokens': String(LONG_STREAM.tokens), ...headers },
    body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'x' }], max_tokens: LONG_STREAM.tokens }),
  });
  return response.then(async (answer) => ({ status: answer.status, connection: answer.headers.get('connection'), body: await answer.text() }));
}

function accessLineOf(cli: CliProcess, requestId: string): Record<string, unknown> | undefined {
  return cli
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => line.component === 'access' && line.request_id === requestId);
}

function frames(text: string): string[] {
  return text.split('\n\n').filter((frame) => frame !== '');
}

describe('a drain that finishes before its deadline', () => {
  it('closes a keep-alive connection once its response has ended, so a pooled client does not hold the exit until the deadline', async () => {
    const replica = await simulator();
    // A deadline longer than the test's timeout: the test passes only if the drain ends on its own.
    const { cli, url } = await startGateway(
      `server:\n  host: 127.0.0.1\n  port: 0\n  drainTimeoutMs: 600000\n` +
        `replicas:\n  - url: ${replica.url}\n    models: [test-model]\nauth:\n  enabled: false\n`,
    );
    // fetch keeps its connection alive in undici's pool after the response, as a load balancer does.
    const tokens = 20;
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'kept-alive', 'x-sim-tokens': String(tokens) },
      body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'x' }], max_tokens: tokens, stream: true }),
    });
    expect(response.headers.get('connection')).toBe('keep-alive');
    cli.child.kill('SIGTERM');
    const text = await response.text();
    expect(frames(text).at(-1)).toBe('data: [DONE]');
    expect(text).not.toContain('shutting_down');
    expect(await cli.exited()).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toContain('tollbooth stopped');
    expect(cli.stdout()).not.toContain('drain timeout reached');
  });
});

describe('the drain deadline', () => {
  it('ends a running stream with an error frame and [DONE], answers a waiting request 503, logs both as drained, exits 0', async () => {
    const replica = await simulator();
    const { cli, url } = await startGateway(
      `server:\n  host: 127.0.0.1\n  port: 0\n  drainTimeoutMs: ${DRAIN_TIMEOUT_MS}\n` +
        `replicas:\n  - url: ${replica.url}\n    models: [test-model]\nauth:\n  enabled: false\n`,
    );
    const stream = await begin(url, 'long-stream', { stream: true });
    const waiting = beginWaitingForHeaders(url, 'long-answer');
    // The non-stream request is at the replica before the signal.
    while (replica.truth.get('long-answer') === undefined) await new Promise((wake) => setTimeout(wake, 10));
    cli.child.kill('SIGTERM');

    const streamed = frames(await stream.rest);
    expect(streamed.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(streamed.at(-2)!.slice('data: '.length))).toMatchObject({ error: { code: 'shutting_down', type: 'server_error' } });
    expect(streamed.filter((frame) => frame.includes('"content"')).length).toBeLessThan(LONG_STREAM.tokens);

    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'shutting_down' } });
    expect(answer.connection).toBe('close');

    expect(await cli.exited()).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toContain('drain timeout reached');
    expect(accessLineOf(cli, 'long-stream')).toMatchObject({ outcome: 'drained', error_code: 'drained', status: 200, stream: true, client_disconnected: false });
    expect(accessLineOf(cli, 'long-answer')).toMatchObject({ outcome: 'drained', error_code: 'drained', status: 503 });
    // Both upstream requests were aborted: the replica freed their sequences.
    expect((await replica.truth.waitFor('long-stream', 2_000))?.outcome).toBe('client_closed');
    expect((await replica.truth.waitFor('long-answer', 2_000))?.outcome).toBe('client_closed');
  });

  it('closes a plain body cut midway, aborts its upstream request and logs it drained', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      upstreamClosed = resolve;
    });
    // A replica that sends half a JSON body, then holds the rest.
    const replica = createServer((request, response) => {
      if (request.method !== 'POST') return void response.end('ok');
      request.socket.once('close', upstreamClosed);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"id":"cmpl-half","choices":[');
    });
    await new Promise<void>((resolve) => replica.listen(0, '127.0.0.1', resolve));
    teardown.defer(() => new Promise<void>((resolve) => replica.close(() => resolve())));
    replica.unref();
    const gateway = await startTestGateway({
      replicas: [{ url: `http://127.0.0.1:${(replica.address() as AddressInfo).port}`, models: ['test-model'] }],
      server: { drainTimeoutMs: DRAIN_TIMEOUT_MS },
    });
    teardown.defer(() => gateway.close());
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'half-body' },
      body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
    });
    expect(response.status).toBe(200);
    const body = response.text();
    body.catch(() => undefined);
    await gateway.shutdown('test');
    await expect(body).rejects.toThrow();
    await closed;
    expect(await gateway.accessLineOf('half-body')).toMatchObject({ outcome: 'drained', error_code: 'drained', status: 200 });
  });

  describe('with rate limits in Redis', () => {
    const redis = useRedisServer();

    it('settles the drained stream\'s reservation: its concurrency slot is free after the exit', async () => {
      const replica = await simulator();
      const secret = generateApiKey();
      const keyPrefix = `drain${Date.now().toString(36)}:`;
      const leases = `${keyPrefix}{rl:k:one-at-a-time}:key:one-at-a-time:cc`;
      const { cli, url } = await startGateway(
        `server:\n  host: 127.0.0.1\n  port: 0\n  drainTimeoutMs: ${DRAIN_TIMEOUT_MS}\n` +
          `replicas:\n  - url: ${replica.url}\n    models: [test-model]\n` +
          `auth:\n  enabled: true\n  keys:\n    - id: one-at-a-time\n      hash: ${hashApiKey(secret)}\n      models: ['*']\n      limits: { maxConcurrent: 1 }\n` +
          `rateLimits:\n  store: redis\nredis:\n  url: ${redis.server().url}\n  keyPrefix: "${keyPrefix}"\n`,
      );
      const admin = redis.client();
      await redisReady(admin);
      const stream = await begin(url, 'limited-stream', { stream: true, headers: { authorization: `Bearer ${secret}` } });
      expect(await admin.zcard(leases)).toBe(1);
      cli.child.kill('SIGTERM');

      expect(frames(await stream.rest).at(-1)).toBe('data: [DONE]');
      expect(await cli.exited()).toEqual({ code: 0, signal: null });
      expect(accessLineOf(cli, 'limited-stream')).toMatchObject({ outcome: 'drained', key_id: 'one-at-a-time', rate_limit: 'admitted', tokens_source: 'estimated' });
      expect(await admin.zcard(leases)).toBe(0);
    });
  });
});
