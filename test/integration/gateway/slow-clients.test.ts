import { readFileSync } from 'node:fs';
import net from 'node:net';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { teardownAfterEach } from '../../helpers/fleet.js';

/**
 * No connection outlives the configured timeouts: 2,000 connections of each kind a slow client
 * can make (headers that never end; a declared 1 MB body sent a byte every few seconds, without a
 * key and with a valid one; a chunked body that never ends) are all closed by the gateway within
 * the timeout that applies + 5 s, and the gateway still serves a normal request afterwards.
 *
 * The gateway runs in this process, so each connection takes two file descriptors: the test needs
 * a soft `ulimit -n` of about 4,500 (raise it in the shell that runs vitest, e.g. `ulimit -n 8192`).
 * Connections open in batches, and the bar is checked per connection from its own start, so a
 * loaded machine slows the test down without making it fail.
 */

const teardown = teardownAfterEach();
const MODEL = 'test-model';
const CONNECTIONS = 2_000;
const BATCH = 200;
const HEADERS_TIMEOUT_MS = 1_000;
const BODY_IDLE_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 3_000;
/** The bar: closed by the server within the applicable timeout plus this. */
const GRACE_MS = 5_000;
/** The slow body's pace: slower than the body idle timeout allows. */
const SLOW_BODY_BYTE_EVERY_MS = 3_000;
/** The slow headers' and never-ending chunked body's pace: fast enough that only the header or whole-request deadline stops them. */
const TRICKLE_EVERY_MS = 400;

interface SlowClientKind {
  readonly name: string;
  /** The request head sent on connect. */
  readonly head: (apiKey: string) => string;
  /** Sent every `everyMs` after the head, for as long as the connection is open. */
  readonly trickle: string;
  readonly everyMs: number;
  /** The deadline that must close it. */
  readonly timeoutMs: number;
  /** What the gateway answers before it closes. */
  readonly status: number;
  readonly code: string;
}

const oneMegabyteJson = (authorization: string) =>
  `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${1024 * 1024}\r\n${authorization}\r\n`;

const KINDS: readonly SlowClientKind[] = [
  {
    name: 'headers that never end',
    head: () => 'POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nX-Slow: ',
    trickle: 'a',
    everyMs: TRICKLE_EVERY_MS,
    timeoutMs: HEADERS_TIMEOUT_MS,
    status: 408,
    code: 'request_timeout',
  },
  {
    name: 'a slow 1 MB body without a key (answered 401 before the body is read)',
    head: () => oneMegabyteJson(''),
    trickle: '{',
    everyMs: SLOW_BODY_BYTE_EVERY_MS,
    timeoutMs: BODY_IDLE_TIMEOUT_MS,
    status: 401,
    code: 'invalid_api_key',
  },
  {
    name: 'a slow 1 MB body with a valid key',
    head: (apiKey) => oneMegabyteJson(`Authorization: Bearer ${apiKey}\r\n`),
    trickle: '{',
    everyMs: SLOW_BODY_BYTE_EVERY_MS,
    timeoutMs: BODY_IDLE_TIMEOUT_MS,
    status: 408,
    code: 'request_timeout',
  },
  {
    name: 'a chunked body that never ends, with a valid key',
    head: (apiKey) =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer ${apiKey}\r\n\r\n`,
    trickle: '1\r\n \r\n',
    everyMs: TRICKLE_EVERY_MS,
    timeoutMs: REQUEST_TIMEOUT_MS,
    status: 408,
    code: 'request_timeout',
  },
];

class SlowClient {
  readonly socket: net.Socket;
  readonly connected: Promise<void>;
  received = '';
  openedAt = 0;
  closedAt: number | undefined;

  constructor(port: number, head: string) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      this.received += chunk;
    });
    this.socket.on('error', () => undefined);
    this.socket.once('close', () => {
      this.closedAt = Date.now();
    });
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        this.openedAt = Date.now();
        this.socket.write(head);
        resolve();
      });
      this.socket.once('error', reject);
    });
  }

  send(text: string): void {
    // Before 'connect' a write would be queued ahead of the head.
    if (this.openedAt > 0 && this.closedAt === undefined && this.socket.writable) this.socket.write(text);
  }

  answer(): { status: number; code: unknown; connectionClose: boolean } {
    const headerEnd = this.received.indexOf('\r\n\r\n');
    const head = this.received.slice(0, headerEnd).toLowerCase();
    const body = JSON.parse(this.received.slice(headerEnd + 4)) as { error?: { code?: unknown } };
    return { status: Number(head.split(' ')[1]), code: body.error?.code, connectionClose: head.includes('\r\nconnection: close') };
  }
}

function openFileSoftLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

describe('slow clients', () => {
  for (const kind of KINDS) {
    it(`closes 2,000 connections sending ${kind.name} within the timeout + 5 s, then serves a normal request`, { timeout: 180_000 }, async () => {
      expect(openFileSoftLimit(), 'the soft open-file limit (ulimit -n) is too low for 2 x 2,000 sockets').toBeGreaterThan(2 * CONNECTIONS + 500);
      const secret = generateApiKey();
      const { gateway } = await teardown.fleet({
        simulator: { prefillBaseMs: 0, interTokenMs: 1, outputTokens: { min: 3, max: 3 } },
        gateway: {
          auth: { keys: [{ id: 'slow-clients', hash: hashApiKey(secret) }] },
          server: { headersTimeoutMs: HEADERS_TIMEOUT_MS, bodyIdleTimeoutMs: BODY_IDLE_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
          logging: { level: 'warn' },
        },
      });
      const port = Number(new URL(gateway.url).port);
      const clients: SlowClient[] = [];
      teardown.defer(async () => {
        for (const client of clients) client.socket.destroy();
      });
      const trickle = setInterval(() => {
        for (const client of clients) client.send(kind.trickle);
      }, kind.everyMs);
      teardown.defer(async () => clearInterval(trickle));

      for (let opened = 0; opened < CONNECTIONS; opened += BATCH) {
        const batch = Array.from({ length: BATCH }, () => new SlowClient(port, kind.head(secret)));
        clients.push(...batch);
        await Promise.all(batch.map((client) => client.connected));
      }

      const bound = kind.timeoutMs + GRACE_MS;
      // Generous on purpose: the assertion below is per connection; this only stops a hung test.
      const giveUpAt = Date.now() + bound + 60_000;
      while (clients.some((client) => client.closedAt === undefined) && Date.now() < giveUpAt) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      clearInterval(trickle);

      const stillOpen = clients.filter((client) => client.closedAt === undefined).length;
      expect(stillOpen, 'connections the gateway never closed').toBe(0);
      const lifetimes = clients.map((client) => (client.closedAt as number) - client.openedAt);
      expect(lifetimes.filter((lifetime) => lifetime > bound).length, `connections open longer than ${bound} ms (longest ${Math.max(...lifetimes)} ms)`).toBe(0);
      for (const client of clients) expect(client.answer()).toEqual({ status: kind.status, code: kind.code, connectionClose: true });

      const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: secret, maxRetries: 0 });
      const completion = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still there?' }] });
      expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    });
  }
});
