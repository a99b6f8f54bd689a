import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';

const teardown = teardownAfterEach();

/** What the misbehaving replica does with one inference request (its socket is `request.socket`). */
type Misbehaviour = (request: IncomingMessage, response: ServerResponse) => void;

interface RawReplica {
  readonly url: string;
  /** Resolves when the socket of the inference request closed (the gateway gave up on it). */
  readonly requestClosed: Promise<void>;
}

/** A node:http replica that answers its probes and misbehaves on purpose on every POST. */
async function rawReplica(misbehave: Misbehaviour): Promise<RawReplica> {
  let closed!: () => void;
  const requestClosed = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const server = createServer((request, response) => {
    if (request.method !== 'POST') {
      // Probes (/health, /v1/models) find a healthy replica.
      response.end(request.url === '/v1/models' ? '{"object":"list","data":[{"id":"test-model","object":"model"}]}' : 'ok');
      return;
    }
    request.resume();
    request.socket.once('close', closed);
    misbehave(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardown.defer(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requestClosed };
}

async function gatewayFor(replica: RawReplica, settings: Partial<TollboothConfigInput> = {}): Promise<TestGateway> {
  const gateway = await startTestGateway({ replicas: [{ url: replica.url, models: ['test-model'] }], ...settings });
  teardown.defer(() => gateway.close());
  return gateway;
}

const chat = (stream: boolean) => ({ model: 'test-model', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8, stream });

function errorOf(text: string): { code: string; message: string } {
  return (JSON.parse(text) as { error: { code: string; message: string } }).error;
}

function lastFrames(text: string): [string, string] {
  const frames = text.split('\n\n').filter((frame) => frame !== '');
  return [frames.at(-2)!, frames.at(-1)!];
}

describe('a replica status outside 100-599', () => {
  it('becomes 502 upstream_bad_response and none of the answer reaches the client', async () => {
    const replica = await rawReplica((_request, response) => {
      response.writeHead(999, { 'content-type': 'application/json', 'x-replica-secret': 'leak' });
      response.end('{"replica":"body that must not be relayed"}');
    });
    const gateway = await gatewayFor(replica);
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(false), { 'x-request-id': 'status-999' });
    expect(response.status).toBe(502);
    expect(errorOf(response.text).code).toBe('upstream_bad_response');
    expect(response.text).not.toContain('must not be relayed');
    expect(response.headers.get('x-replica-secret')).toBeNull();
    expect(await gateway.accessLineOf('status-999')).toMatchObject({ status: 502, outcome: 'upstream_failure', error_code: 'upstream_bad_response' });
  });
});

describe('a replica error body', () => {
  it('is read up to upstream.errorBodyLimitBytes; an endless one is answered with what was kept and its connection closed', async () => {
    const limit = 4 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const hundredMegabytes = 100 * 1024 * 1024;
    let sent = 0;
    const replica = await rawReplica((request, response) => {
      response.writeHead(500, { 'content-type': 'text/plain' });
      // 100 MB, as fast as the gateway reads it; stops when the gateway closes the connection.
      const pump = (): void => {
        while (sent < hundredMegabytes && !request.socket.destroyed) {
          sent += chunk.length;
          if (!response.write(chunk)) {
            response.once('drain', pump);
            return;
          }
        }
        response.end();
      };
      pump();
    });
    const gateway = await gatewayFor(replica, { upstream: { errorBodyLimitBytes: limit } });
    const before = process.memoryUsage();
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(false), { 'x-request-id': 'huge-error' });
    expect(response.status).toBe(500);
    const error = errorOf(response.text);
    expect(error.message, JSON.stringify(error).slice(0, 300)).toMatch(/^xxxx/);
    expect(error.message.endsWith('…')).toBe(true);
    // The gateway stopped reading: the replica's connection closed long before its 100 MB were sent.
    await replica.requestClosed;
    expect(sent).toBeLessThan(hundredMegabytes / 4);
    const after = process.memoryUsage();
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(hundredMegabytes / 4);
    expect(await gateway.accessLineOf('huge-error')).toMatchObject({ status: 500, outcome: 'upstream_error' });
  });
});

describe('transport failures say what happened', () => {
  it('a reset before the headers is upstream_connection_reset', async () => {
    const replica = await rawReplica((request) => request.socket.destroy());
    const gateway = await gatewayFor(replica);
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(true));
    expect(response.status).toBe(502);
    expect(errorOf(response.text)).toMatchObject({ code: 'upstream_connection_reset', message: 'The replica closed the connection before it answered.' });
  });

  it('a reset mid-stream is upstream_stream_interrupted, in band', async () => {
    const replica = await rawReplica((request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n', () => request.socket.destroy());
    });
    const gateway = await gatewayFor(replica);
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(true), { 'x-request-id': 'reset-mid-stream' });
    expect(response.status).toBe(200);
    const [errorFrame, done] = lastFrames(response.text);
    expect(done).toBe('data: [DONE]');
    const error = errorOf(errorFrame.slice('data: '.length));
    expect(error.code).toBe('upstream_stream_interrupted');
    expect(error.message).not.toMatch(/before it answered/);
    expect(await gateway.accessLineOf('reset-mid-stream')).toMatchObject({ error_code: 'upstream_stream_interrupted', outcome: 'upstream_failure' });
  });
});

describe('time to the first body byte', () => {
  // The body idle timeout is far away: only the headers timeout can end these in time.
  const timeouts = { upstream: { headersTimeoutMs: 500, bodyIdleTimeoutMs: 120_000 } };
  const headersThenSilence =
    (contentType: string): Misbehaviour =>
    (_request, response) => {
      response.writeHead(200, { 'content-type': contentType });
      response.flushHeaders();
    };

  it('a stream whose headers came at once, then nothing, is ended by upstream.headersTimeoutMs with an in-band upstream_timeout', async () => {
    const replica = await rawReplica(headersThenSilence('text/event-stream'));
    const gateway = await gatewayFor(replica, timeouts);
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(true), { 'x-request-id': 'queued-stream' });
    expect(response.status).toBe(200);
    const [errorFrame, done] = lastFrames(response.text);
    expect(done).toBe('data: [DONE]');
    expect(errorOf(errorFrame.slice('data: '.length)).code).toBe('upstream_timeout');
    await replica.requestClosed;
    expect(await gateway.accessLineOf('queued-stream')).toMatchObject({ error_code: 'upstream_timeout', outcome: 'upstream_failure' });
  });

  it('a non-stream answer whose headers came, then nothing, gets 504 upstream_timeout (nothing was written yet)', async () => {
    const replica = await rawReplica(headersThenSilence('application/json'));
    const gateway = await gatewayFor(replica, timeouts);
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(false), { 'x-request-id': 'queued-json' });
    expect(response.status).toBe(504);
    expect(errorOf(response.text).code).toBe('upstream_timeout');
    await replica.requestClosed;
    expect(await gateway.accessLineOf('queued-json')).toMatchObject({ status: 504, error_code: 'upstream_timeout' });
  });
});
