import { connect } from 'node:net';
import fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/key-format.js';
import { INFERENCE_ENDPOINTS } from '../../src/proxy/endpoints.js';
import { startFleet, type TestFleet } from '../helpers/fleet.js';
import { bodyText, requestBodyText } from './arbitraries.js';
import { checkAsyncProperty, failOnEscapedErrors, FUZZ_RUNS, fuzzTimeout } from './harness.js';

/**
 * Arbitrary requests through real gateways over real sockets (one with auth on and an inline
 * key, one with auth off), in front of a simulator replica. Every answer is an OpenAI error
 * envelope with a 400–599 status, or the replica's answer; nothing escapes to the process.
 */
const { escaped } = failOnEscapedErrors();

const KEY = 'tb-fuzz-0123456789abcdefghijklmnopqrstuvwxyz';
let authOn: TestFleet;
let authOff: TestFleet;
let pools: { on: Pool; off: Pool };

beforeAll(async () => {
  const simulator = { interTokenMs: 0, prefillBaseMs: 0, outputTokens: { min: 1, max: 6 }, truthCapacity: 200 };
  authOn = await startFleet({ simulator, gateway: { auth: { keys: [{ id: 'fuzz', hash: hashApiKey(KEY) }] } } });
  authOff = await startFleet({ simulator });
  pools = {
    on: new Pool(authOn.gateway.url, { connections: 4, keepAliveTimeout: 60_000 }),
    off: new Pool(authOff.gateway.url, { connections: 4, keepAliveTimeout: 60_000 }),
  };
}, 60_000);

afterAll(async () => {
  await Promise.all([pools?.on.close(), pools?.off.close()]);
  await Promise.all([authOn?.close(), authOff?.close()]);
}, 60_000);

/** Header values undici will send: visible ASCII and spaces. */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 80 });

/** The credentials a request carries: mostly the valid key (so bodies reach every stage), else variants and garbage. */
const credentials = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ authorization: `Bearer ${KEY}` }) },
  { weight: 1, arbitrary: fc.constant({ 'x-api-key': KEY }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom(`bearer ${KEY}`, `Bearer  ${KEY}`, `Bearer ${KEY} `, KEY, `Basic ${Buffer.from(`x:${KEY}`).toString('base64')}`, 'Bearer ', 'Bearer wrong-key', `Bearer ${KEY}x`, ''),
        headerText,
      )
      .map((authorization) => ({ authorization })),
  },
  { weight: 1, arbitrary: fc.constant({ 'x-api-key': 'nope' }) },
  { weight: 1, arbitrary: fc.constant({}) },
);

const paths = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...INFERENCE_ENDPOINTS.map((endpoint) => endpoint.path)) },
  { weight: 1, arbitrary: fc.constantFrom('/v1/models', '/health', '/ready', '/v1/unknown', '/v1/chat/completions?x=1', '/v1//chat/completions', '/v1/chat/completions/') },
);

const requestCase = fc.record(
  {
    authOn: fc.boolean(),
    method: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
    path: paths,
    body: requestBodyText,
    credentials,
    requestId: fc.option(fc.oneof(headerText, fc.uuid()), { nil: undefined }),
    sessionId: fc.option(headerText, { nil: undefined }),
    contentType: fc.option(
      fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ''), headerText),
      { nil: undefined },
    ),
  },
  { requiredKeys: ['authOn', 'method', 'path', 'body', 'credentials'] },
);

/** The invariant on one answer: an OpenAI error envelope (400–599) or a replica's 2xx answer. */
function expectOpenAiAnswer(status: number, contentType: string, text: string): void {
  expect(status, text.slice(0, 300)).toBeGreaterThanOrEqual(200);
  expect(status, text.slice(0, 300)).toBeLessThan(600);
  if (status >= 400) {
    expect(status).toBeGreaterThanOrEqual(400);
    const shown = `${status} ${text.slice(0, 300)}`;
    const body = parseJson(text, shown) as { error?: Record<string, unknown> };
    expect(Object.keys(body), shown).toContain('error');
    const error = (typeof body.error === 'object' && body.error !== null ? body.error : {}) as Record<string, unknown>;
    expect(typeof error.message, shown).toBe('string');
    expect(typeof error.type, shown).toBe('string');
    expect(error.param === null || typeof error.param === 'string', shown).toBe(true);
    expect(error.code === null || typeof error.code === 'string' || typeof error.code === 'number', shown).toBe(true);
    // internal_error is the gateway failing on its own input handling: a bug, whatever the request was.
    expect(error.code, text.slice(0, 300)).not.toBe('internal_error');
  } else if (status < 300 && contentType.startsWith('text/event-stream')) {
    expect(text.endsWith('data: [DONE]\n\n') || /data: \{"error"/.test(text), text.slice(-300)).toBe(true);
  } else if (status < 300 && contentType.startsWith('application/json')) {
    JSON.parse(text);
  } else {
    expect(status, `unexpected ${status} ${contentType}`).toBeLessThan(300);
  }
}

function parseJson(text: string, shown: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not a JSON error body: ${shown}`);
  }
}

/** Waits until `fleet` has logged the request's access line: the request is over and telemetry ran. */
async function settled(fleet: TestFleet, requestId: string | undefined): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (requestId !== undefined && !fleet.gateway.logs.some((line) => line.component === 'access' && line.request_id === requestId) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // Telemetry completes in a microtask after the response; let it run.
  await new Promise((resolve) => setImmediate(resolve));
  fleet.gateway.logs.length = 0;
}

describe('arbitrary requests through real gateways', () => {
  it('answers every request with an OpenAI error or the replica answer, and nothing escapes', { timeout: fuzzTimeout(25) }, async () => {
    await checkAsyncProperty(
      'gateway-requests',
      fc.asyncProperty(requestCase, async (one) => {
        const headers: Record<string, string> = { ...one.credentials };
        if (one.requestId !== undefined) headers['x-request-id'] = one.requestId;
        if (one.sessionId !== undefined) headers['x-session-id'] = one.sessionId;
        if (one.contentType !== undefined) headers['content-type'] = one.contentType;
        const fleet = one.authOn ? authOn : authOff;
        const response = await (one.authOn ? pools.on : pools.off).request({
          method: one.method as 'POST',
          path: one.path,
          headers,
          body: one.method === 'GET' ? undefined : bodyText(one.body),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        const text = await response.body.text();
        const requestId = response.headers['x-request-id'];
        await settled(fleet, typeof requestId === 'string' ? requestId : undefined);
        expectOpenAiAnswer(response.statusCode, String(response.headers['content-type'] ?? ''), text);
        expect(escaped.map(String)).toEqual([]);
      }),
    );
  });

  it('answers raw requests with odd framing (content-length, transfer-encoding) with an OpenAI error or the replica answer, then closes', { timeout: fuzzTimeout(40, RAW_RUNS) }, async () => {
    const framing = fc.record({
      authOn: fc.boolean(),
      path: fc.constantFrom('/v1/chat/completions', '/v1/completions', '/tokenize', '/v1/embeddings'),
      body: requestBodyText.map((body) => Buffer.from(bodyText(body)).subarray(0, 4096)),
      contentLength: fc.oneof(
        fc.constant('exact'),
        fc.constant('absent'),
        fc.integer({ min: -5, max: 5000 }).map(String),
        fc.constantFrom('abc', '1e3', ' 12', '0x10', '99999999999999999999', '5, 5', '-0', ''),
      ),
      chunked: fc.constantFrom('none', 'chunked', 'gzip, chunked', 'chunked, identity', 'bogus'),
      duplicateLength: fc.boolean(),
      key: fc.boolean(),
    });
    await checkAsyncProperty(
      'gateway-raw-framing',
      fc.asyncProperty(framing, async (one) => {
        const fleet = one.authOn ? authOn : authOff;
        const lines = [`POST ${one.path} HTTP/1.1`, 'Host: fuzz', 'Content-Type: application/json'];
        if (one.key) lines.push(`Authorization: Bearer ${KEY}`);
        const length = one.contentLength === 'exact' ? String(one.body.length) : one.contentLength;
        if (length !== 'absent') lines.push(`Content-Length: ${length}`);
        if (one.duplicateLength && length !== 'absent') lines.push(`Content-Length: ${one.body.length + 1}`);
        let payload = one.body;
        if (one.chunked !== 'none') {
          lines.push(`Transfer-Encoding: ${one.chunked}`);
          payload = Buffer.concat([Buffer.from(`${one.body.length.toString(16)}\r\n`), one.body, Buffer.from('\r\n0\r\n\r\n')]);
        }
        const answer = await rawExchange(new URL(fleet.gateway.url), Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload]));
        fleet.gateway.logs.length = 0;
        expect(answer.closed, 'the gateway kept the connection open after the client finished sending').toBe(true);
        // No answer at all is acceptable only for a request the client never finished sending.
        if (answer.bytes.length === 0) return;
        const response = firstResponse(answer.bytes);
        expectOpenAiAnswer(response.status, response.contentType, response.body);
        await new Promise((resolve) => setImmediate(resolve));
        expect(escaped.map(String)).toEqual([]);
      }),
      RAW_RUNS,
    );
  });
});

/** Raw-socket cases each open a connection and wait for the gateway to close it. */
const RAW_RUNS = FUZZ_RUNS;

/** Sends `request`, half-closes, and collects the answer until the gateway closes (or 15 s pass). */
function rawExchange(url: URL, request: Buffer): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ bytes: Buffer.concat(received), closed: false });
    }, 15_000);
    socket.on('data', (data: Buffer) => received.push(data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(received), closed: true });
    });
    socket.end(request);
  });
}

/** The first HTTP response in `bytes`: status, content type and body (content-length or chunked). */
function firstResponse(bytes: Buffer): { status: number; contentType: string; body: string } {
  const headEnd = bytes.indexOf('\r\n\r\n');
  const head = bytes.toString('latin1', 0, headEnd < 0 ? bytes.length : headEnd);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  const header = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim();
  const rest = headEnd < 0 ? Buffer.alloc(0) : bytes.subarray(headEnd + 4);
  const length = header('content-length');
  let body: Buffer;
  if (length !== undefined) body = rest.subarray(0, Number(length));
  else if (/chunked/i.test(header('transfer-encoding') ?? '')) body = dechunk(rest);
  else body = rest;
  return { status, contentType: header('content-type') ?? '', body: body.toString('utf8') };
}

function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(bytes.toString('latin1', at, lineEnd), 16);
    if (!(size > 0)) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
