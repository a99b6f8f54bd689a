import { request as httpRequest, createServer, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { startSimulator } from '../../../src/sim/index.js';
import { teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway } from '../../helpers/gateway.js';

/**
 * Steering the pass-through: each attempt is sent byte for byte on a raw socket (fetch and undici
 * would normalise the path first) to a gateway whose only replica is a recording relay in front
 * of the simulator, so a test can say what the replica was asked for, not only what came back.
 */
const { defer } = teardownAfterEach();
const MODEL = 'test-model';
/** The gateway's own probes of its replica (health, model list, engine figures). */
const PROBE_PATHS = new Set(['/health', '/v1/models', '/metrics']);

interface RecordedRequest {
  readonly method: string;
  readonly target: string;
  readonly authorization: string | undefined;
}

/** A relay that records every request target it receives and forwards it unchanged to `upstream`. */
async function startRecordingReplica(upstream: string): Promise<{ url: string; seen: RecordedRequest[]; forwarded: () => RecordedRequest[] }> {
  const seen: RecordedRequest[] = [];
  const target = new URL(upstream);
  const server = createServer((incoming: IncomingMessage, outgoing) => {
    seen.push({ method: incoming.method ?? '', target: incoming.url ?? '', authorization: incoming.headers.authorization });
    const relayed = httpRequest(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    relayed.on('error', () => outgoing.destroy());
    incoming.pipe(relayed);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(() => new Promise((resolve) => server.close(resolve)));
  defer(async () => {
    server.closeAllConnections();
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    forwarded: () => seen.filter((request) => !PROBE_PATHS.has(request.target)),
  };
}

async function gatewayWithRecorder(gateway: Partial<TollboothConfigInput> = {}) {
  const simulator = await startSimulator({ seed: 7, models: [MODEL] });
  defer(() => simulator.close());
  const replica = await startRecordingReplica(simulator.url);
  const running = await startTestGateway({ ...gateway, replicas: [{ name: 'recorded', url: replica.url, models: [MODEL], apiKey: 'replica-secret' }] });
  defer(() => running.close());
  return { gateway: running, replica };
}

interface RawAnswer {
  readonly status: number;
  readonly body: string;
}

/** Sends `head` (request line and headers, CRLF-separated, without the blank line) and `body` as bytes. */
function sendRaw(gatewayUrl: string, head: string, body = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (status === null) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const bodyStart = text.indexOf('\r\n\r\n');
      resolve({ status: Number(status[1]), body: decodeChunked(text.slice(bodyStart + 4), /transfer-encoding: chunked/i.test(text.slice(0, bodyStart))) });
    });
    socket.setTimeout(20_000, () => socket.destroy(new Error('no answer within 20 s')));
    // Not end(): a half-closed socket reads as a client that left. Connection: close ends the exchange.
    socket.write(`${head}\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n${body === '' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`);
  });
}

function decodeChunked(body: string, chunked: boolean): string {
  if (!chunked) return body;
  let decoded = '';
  let rest = body;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return decoded;
    decoded += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

function errorCodeOf(answer: RawAnswer): unknown {
  return (JSON.parse(answer.body) as { error: { code: unknown } }).error.code;
}

const MODEL_BODY = JSON.stringify({ model: MODEL, prompt: 'x' });

describe('request targets that could steer the pass-through', () => {
  it.each([
    ['a dot-dot segment', 'GET /v1/../sim/truth HTTP/1.1'],
    ['encoded dots', 'GET /v1/%2e%2e/metrics HTTP/1.1'],
    ['encoded dots in mixed case, twice', 'GET /v1/%2E%2E/%2e%2e/sim/truth HTTP/1.1'],
    ['an encoded slash', 'GET /v1/files%2f..%2f..%2fsim%2ftruth HTTP/1.1'],
    ['an encoded backslash', 'GET /v1/..%5c..%5csim/truth HTTP/1.1'],
    ['double-encoded dots', 'GET /v1/%252e%252e/metrics HTTP/1.1'],
    ['a raw backslash', 'GET /v1\\..\\sim\\truth HTTP/1.1'],
    ['an empty segment', 'GET /v1//chat/completions/render HTTP/1.1'],
    ['the absolute form', 'GET http://evil.example/v1/chat/completions/render HTTP/1.1'],
    ['the absolute form aimed at an admin route', 'POST http://evil.example/v1/load_lora_adapter HTTP/1.1'],
    ['a dot-dot segment on an allow-listed prefix', 'POST /v1/chat/completions/render/../../../sim/truth HTTP/1.1'],
  ])('refuses %s with 400 invalid_path, and the replica never sees it', async (_name, requestLine) => {
    // Even with everything under /v1 passed through, the path check alone keeps the replica out of it.
    const { gateway, replica } = await gatewayWithRecorder({ passthrough: { paths: ['/v1/*'] } });
    const answer = await sendRaw(gateway.url, requestLine, requestLine.startsWith('POST') ? MODEL_BODY : '');
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_path' } });
    expect(replica.forwarded()).toEqual([]);
  });

  it('refuses a bad target on the gateway’s own and explicit routes too, before the key is checked', async () => {
    const secret = generateApiKey();
    const { gateway, replica } = await gatewayWithRecorder({ auth: { keys: [{ id: 'any', hash: hashApiKey(secret) }] } });
    for (const requestLine of ['GET /v1/./models HTTP/1.1', 'POST /v1/%63hat/%2e/completions HTTP/1.1', 'GET /health/.. HTTP/1.1']) {
      const answer = await sendRaw(gateway.url, requestLine, requestLine.startsWith('POST') ? MODEL_BODY : '');
      expect(answer.status, requestLine).toBe(400);
      expect(errorCodeOf(answer)).toBe('invalid_path');
    }
    expect(replica.forwarded()).toEqual([]);
  });
});

describe('the pass-through allow-list', () => {
  it('answers 404 unknown_url for vLLM’s LoRA route unless it is listed, without contacting the replica', async () => {
    const body = JSON.stringify({ lora_name: 'evil', lora_path: '/tmp/evil' });
    const { gateway, replica } = await gatewayWithRecorder();
    for (const path of ['/v1/load_lora_adapter', '/v1/unload_lora_adapter', '/reset_prefix_cache', '/sleep', '/v1/files', '/sim/truth']) {
      const answer = await sendRaw(gateway.url, `POST ${path} HTTP/1.1\r\nContent-Type: application/json`, body);
      expect(answer.status, path).toBe(404);
      expect(errorCodeOf(answer)).toBe('unknown_url');
    }
    expect(replica.forwarded()).toEqual([]);
    // Labelled like any path no route knows, so metrics and spans do not count them as pass-through.
    expect(new Set(gateway.accessLines().map((line) => line.route))).toEqual(new Set(['unmatched']));
  });

  it('forwards vLLM’s LoRA route when the operator lists it', async () => {
    const body = JSON.stringify({ lora_name: 'adapter', lora_path: '/models/adapter' });
    const { gateway, replica } = await gatewayWithRecorder({ passthrough: { paths: ['/v1/load_lora_adapter'] } });
    const answer = await sendRaw(gateway.url, 'POST /v1/load_lora_adapter HTTP/1.1\r\nContent-Type: application/json', body);
    // The simulator has no LoRA route: its own 404, normalised, proves the request reached it.
    expect(answer.status).toBe(404);
    expect(errorCodeOf(answer)).toBeNull();
    expect(replica.forwarded()).toEqual([{ method: 'POST', target: '/v1/load_lora_adapter', authorization: 'Bearer replica-secret' }]);
  });

  it('forwards a listed path with its query string exactly as sent', async () => {
    const { gateway, replica } = await gatewayWithRecorder({ passthrough: { paths: ['/v1/files', '/v1/batches/*'] } });
    const targets = ['/v1/files?purpose=batch&after=..%2F..%2Fsim%2Ftruth&x=%252e', '/v1/batches/batch_1/cancel?a=1&a=2'];
    for (const target of targets) {
      const answer = await sendRaw(gateway.url, `GET ${target} HTTP/1.1`);
      expect(answer.status, target).toBe(404);
      expect(errorCodeOf(answer), target).toBeNull();
    }
    expect(replica.forwarded().map((request) => request.target)).toEqual(targets);
  });

  it('forwards the default vLLM inference routes, routed by model', async () => {
    const { gateway, replica } = await gatewayWithRecorder();
    await sendRaw(gateway.url, 'POST /v1/completions/render HTTP/1.1\r\nContent-Type: application/json', MODEL_BODY);
    await sendRaw(gateway.url, 'POST /pooling HTTP/1.1\r\nContent-Type: application/json', JSON.stringify({ model: MODEL, input: 'x' }));
    expect(replica.forwarded().map((request) => request.target)).toEqual(['/v1/completions/render', '/pooling']);
  });
});

describe('a pass-through request that names no model', () => {
  async function gatewayWithKeys() {
    const narrow = generateApiKey();
    const prefixed = generateApiKey();
    const wide = generateApiKey();
    const started = await gatewayWithRecorder({
      passthrough: { paths: ['/v1/files'] },
      auth: {
        keys: [
          { id: 'narrow', models: [MODEL], hash: hashApiKey(narrow) },
          { id: 'prefix', models: ['test-*'], hash: hashApiKey(prefixed) },
          { id: 'wide', hash: hashApiKey(wide) },
        ],
      },
    });
    return { ...started, narrow, prefixed, wide };
  }

  it('is refused 403 model_not_allowed to a key restricted to some models, before the replica is asked', async () => {
    const { gateway, replica, narrow, prefixed } = await gatewayWithKeys();
    for (const secret of [narrow, prefixed]) {
      const answer = await sendRaw(gateway.url, `GET /v1/files HTTP/1.1\r\nAuthorization: Bearer ${secret}`);
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toEqual({ error: { message: expect.stringContaining('must name one'), type: 'invalid_request_error', param: 'model', code: 'model_not_allowed' } });
    }
    // The same holds on vLLM's routes that default the model: the replica would pick it.
    const tokenize = await sendRaw(gateway.url, `POST /tokenize HTTP/1.1\r\nAuthorization: Bearer ${narrow}\r\nContent-Type: application/json`, JSON.stringify({ prompt: 'x' }));
    expect(tokenize.status).toBe(403);
    expect(errorCodeOf(tokenize)).toBe('model_not_allowed');
    expect(replica.forwarded()).toEqual([]);
  });

  it('is forwarded for a key allowed every model, and a restricted key may still name its model', async () => {
    const { gateway, replica, narrow, wide } = await gatewayWithKeys();
    const unrestricted = await sendRaw(gateway.url, `GET /v1/files?limit=1 HTTP/1.1\r\nAuthorization: Bearer ${wide}`);
    expect(unrestricted.status).toBe(404);
    expect(errorCodeOf(unrestricted)).toBeNull();
    const named = await sendRaw(gateway.url, `POST /v1/files HTTP/1.1\r\nAuthorization: Bearer ${narrow}\r\nContent-Type: application/json`, MODEL_BODY);
    expect(named.status).toBe(404);
    expect(errorCodeOf(named)).toBeNull();
    expect(replica.forwarded().map((request) => `${request.method} ${request.target}`)).toEqual(['GET /v1/files?limit=1', 'POST /v1/files']);
  });
});
