import net from 'node:net';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { teardownAfterEach } from '../../helpers/fleet.js';

/**
 * Client connections are bounded: header, body-silence and whole-request deadlines, a request
 * answered before its body was read closes its connection, a cap on open connections, and Node's
 * own parser answers in the OpenAI envelope. Raw node:net sockets, because the bytes and the
 * moment the server closes are what is tested.
 */

const teardown = teardownAfterEach();
const MODEL = 'test-model';

/** A raw client connection: what the server sent, and when it closed the connection. */
class RawConnection {
  readonly socket: net.Socket;
  readonly connected: Promise<void>;
  readonly closed: Promise<number>;
  received = '';
  openedAt = Date.now();
  closedAt: number | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      this.received += chunk;
    });
    // A reset after the answer is a close like any other here.
    this.socket.on('error', () => undefined);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        this.openedAt = Date.now();
        resolve();
      });
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.closedAt = Date.now();
        resolve(this.closedAt);
      }),
    );
  }

  write(text: string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(text);
  }

  get isOpen(): boolean {
    return this.closedAt === undefined;
  }

  /** The status and JSON body of the first response received. */
  firstResponse(): { status: number; headers: string; body: unknown } {
    const headerEnd = this.received.indexOf('\r\n\r\n');
    const head = this.received.slice(0, headerEnd);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    const body = this.received.slice(headerEnd + 4, headerEnd + 4 + length);
    return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) as unknown };
  }
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function openAiError(code: string): unknown {
  return { error: { message: expect.any(String), type: 'invalid_request_error', param: null, code } };
}

/** A keep-alive GET on an open raw connection, answered within the timeout. */
async function getOn(connection: RawConnection, path: string): Promise<string> {
  const before = connection.received.length;
  connection.write(`GET ${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`);
  await until(() => /\r\n\r\n[\s\S]*\}$/.test(connection.received.slice(before)), 10_000, `an answer to GET ${path}`);
  return connection.received.slice(before);
}

describe("Node's own client errors", () => {
  it('answer 400, 431 and 408 in the OpenAI envelope with Connection: close, then close the socket', async () => {
    const { gateway } = await teardown.fleet({ gateway: { server: { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 } } });
    const port = portOf(gateway.url);

    const garbage = new RawConnection(port);
    await garbage.connected;
    garbage.write('THIS IS NOT HTTP\r\n\r\n');

    const hugeHeaders = new RawConnection(port);
    await hugeHeaders.connected;
    hugeHeaders.write(`GET /health HTTP/1.1\r\nHost: gateway\r\nX-Padding: ${'a'.repeat(64 * 1024)}\r\n\r\n`);

    const silent = new RawConnection(port);
    await silent.connected;

    await Promise.all([garbage.closed, hugeHeaders.closed, silent.closed]);
    const cases: Array<[RawConnection, number, string]> = [
      [garbage, 400, 'malformed_http_request'],
      [hugeHeaders, 431, 'request_headers_too_large'],
      [silent, 408, 'request_timeout'],
    ];
    for (const [connection, status, code] of cases) {
      const answer = connection.firstResponse();
      expect(answer.status).toBe(status);
      expect(answer.headers).toContain('content-type: application/json');
      expect(answer.headers).toContain('connection: close');
      expect(answer.body).toEqual(openAiError(code));
    }
  });

  it('answers a request body that stops arriving with 408 after server.bodyIdleTimeoutMs and closes the connection', async () => {
    const { gateway } = await teardown.fleet({ gateway: { server: { bodyIdleTimeoutMs: 1_000 } } });
    const stalled = new RawConnection(portOf(gateway.url));
    await stalled.connected;
    stalled.write(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nX-Request-Id: stalled-body\r\n\r\n{"model":',
    );
    await stalled.closed;
    const answer = stalled.firstResponse();
    expect(answer.status).toBe(408);
    expect(answer.body).toEqual(openAiError('request_timeout'));
    expect(await gateway.accessLineOf('stalled-body')).toMatchObject({ error_code: 'request_timeout' });
  });
});

describe('a request answered before its body was read', () => {
  it('gets Connection: close and its connection is closed, instead of the declared body being read', async () => {
    const { gateway } = await teardown.fleet({ gateway: { server: { bodyLimitBytes: 1024 } } });
    const port = portOf(gateway.url);
    const heads: Array<[string, number, string]> = [
      ['POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{', 413, 'request_too_large'],
      ['POST /not/a/route HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{', 404, 'unknown_url'],
    ];
    for (const [head, status, code] of heads) {
      const connection = new RawConnection(port);
      await connection.connected;
      connection.write(head);
      // The client keeps sending its body slowly; the gateway closes anyway.
      const trickle = setInterval(() => connection.write(' '), 200);
      await connection.closed;
      clearInterval(trickle);
      const answer = connection.firstResponse();
      expect([answer.status, answer.body]).toEqual([status, openAiError(code)]);
      expect(answer.headers).toContain('connection: close');
    }
  });
});

describe('deadlines that end when the request is in', () => {
  it('leave a streamed response alone: the first token after all the client-side timeouts still arrives, and keep-alive reuse works', async () => {
    const { gateway } = await teardown.fleet({
      simulator: { prefillBaseMs: 3_500, interTokenMs: 200, outputTokens: { min: 5, max: 5 } },
      gateway: { server: { headersTimeoutMs: 1_000, bodyIdleTimeoutMs: 1_000, requestTimeoutMs: 1_500 } },
    });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    for (let round = 0; round < 2; round += 1) {
      const stream = await client.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hello' }] });
      let content = '';
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
      expect(content.length).toBeGreaterThan(0);
    }
  });
});

describe('server.maxConnections', () => {
  it('closes the connection beyond the cap before reading from it, while the open ones keep working', async () => {
    const { gateway } = await teardown.fleet({ gateway: { server: { maxConnections: 3 } } });
    const port = portOf(gateway.url);
    const admitted = [new RawConnection(port), new RawConnection(port), new RawConnection(port)];
    for (const connection of admitted) {
      await connection.connected;
      expect(await getOn(connection, '/health')).toMatch(/^HTTP\/1\.1 200 /);
    }

    let openOnServer = 3;
    const countConnections = setInterval(() => gateway.gateway.app.server.getConnections((_error, count) => (openOnServer = count)), 50);
    teardown.defer(async () => clearInterval(countConnections));
    const refused = new RawConnection(port);
    refused.write('GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n');
    await refused.closed;
    expect(refused.received).toBe('');
    await until(() => gateway.logs.some((line) => line.level === 'warn' && line.max_connections === 3), 5_000, 'the refusal to be logged');
    expect(gateway.logs.find((line) => line.max_connections === 3)).toMatchObject({ refused: 1, msg: expect.stringContaining('server.maxConnections') });

    for (const connection of admitted) expect(await getOn(connection, '/health')).toMatch(/^HTTP\/1\.1 200 /);
    // A freed place is taken by the next connection.
    admitted[0]!.socket.destroy();
    await admitted[0]!.closed;
    await until(() => openOnServer === 2, 10_000, 'the server to see the close');
    const later = new RawConnection(port);
    await later.connected;
    expect(await getOn(later, '/health')).toMatch(/^HTTP\/1\.1 200 /);
    for (const connection of [...admitted, later]) connection.socket.destroy();
  });
});
