import { connect, type Socket } from 'node:net';
import { sleep } from './gateway-process.js';

/**
 * Many connections that hold the gateway open on purpose: slow bodies, slow headers, chunked
 * bodies that never end. Each kind sends its bytes on a shared timer; `openAfter` counts the
 * connections the gateway has not closed by a deadline.
 */
export type SlowKind = 'slow-body' | 'slow-headers' | 'endless-chunked';

export interface SlowClients {
  /** Connections still open `ms` after they were all opened. */
  openAfter(ms: number): Promise<number>;
  /** Connections that were established (a refused connection was never held open by anyone). */
  readonly connected: () => number;
  close(): void;
}

export async function openSlowClients(url: string, kind: SlowKind, count: number, authorization: string | undefined): Promise<SlowClients> {
  const { hostname, port } = new URL(url);
  const sockets: Socket[] = [];
  const open = new Set<Socket>();
  let connected = 0;
  const auth = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`;
  const head =
    kind === 'slow-body'
      ? `POST /v1/chat/completions HTTP/1.1\r\nHost: chaos\r\n${auth}Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{`
      : kind === 'endless-chunked'
        ? `POST /v1/chat/completions HTTP/1.1\r\nHost: chaos\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`
        : `POST /v1/chat/completions HTTP/1.1\r\nHost: chaos\r\n`;
  // Open in batches, so the listen backlog is not the thing under test.
  for (let index = 0; index < count; index += 1) {
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    socket.on('connect', () => (connected += 1));
    socket.on('close', () => open.delete(socket));
    socket.setNoDelay(true);
    socket.write(head);
    sockets.push(socket);
    open.add(socket);
    if (index % 200 === 199) await sleep(20);
  }
  const startedAt = Date.now();
  // slow body: one byte a second (never idle long, so only a whole-request deadline ends it);
  // slow headers: one header line a second; endless chunked: a one-byte chunk every 500 ms.
  const interval = kind === 'endless-chunked' ? 500 : 1_000;
  const piece = kind === 'slow-body' ? ' ' : kind === 'endless-chunked' ? '1\r\n \r\n' : 'X-Slow: 1\r\n';
  const timer = setInterval(() => {
    for (const socket of open) if (socket.writable) socket.write(piece);
  }, interval);
  return {
    connected: () => connected,
    openAfter: async (ms) => {
      await sleep(Math.max(0, startedAt + ms - Date.now()));
      return open.size;
    },
    close: () => {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}
