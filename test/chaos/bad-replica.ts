import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A replica that misbehaves on purpose, one behaviour per model name. It answers the gateway's
 * probes (/health, /v1/models) like vLLM, so the gateway routes to it, and records every request
 * the gateway forwards (those carry an x-request-id).
 */
export const BAD_MODELS = {
  /** usage.prompt_tokens: 3.5 (a JSON answer, and a stream's usage frame). */
  fractionalUsage: 'chaos-fractional-usage',
  /** HTTP status 999. */
  status999: 'chaos-status-999',
  /** A 500 whose body is 100 MB (written as fast as the gateway reads it). */
  hugeErrorBody: 'chaos-huge-error-body',
  /** SSE headers and two content events, then a TCP reset. */
  midStreamReset: 'chaos-mid-stream-reset',
  /** 200 without usage to any request (vLLM's /tokenize accepts what the simulator refuses). */
  acceptsAnything: 'chaos-accepts-anything',
} as const;

export const HUGE_ERROR_BYTES = 100 * 1024 * 1024;

export interface BadReplica {
  readonly url: string;
  /** Paths of the requests the gateway forwarded (probes excluded). */
  readonly forwarded: string[];
  /** Bytes of the huge error body written so far, and whether all of it was. */
  readonly hugeBody: { written: number; complete: boolean };
  close(): Promise<void>;
}

export async function startBadReplica(): Promise<BadReplica> {
  const forwarded: string[] = [];
  const hugeBody = { written: 0, complete: false };
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    void handle(request, response).catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.headers['x-request-id'] !== undefined) forwarded.push(request.url ?? '');
    if (request.url === '/health') return void response.writeHead(200).end();
    if (request.url === '/v1/models') {
      const data = Object.values(BAD_MODELS).map((id) => ({ id, object: 'model', owned_by: 'chaos' }));
      return void json(response, 200, { object: 'list', data });
    }
    let body: { model?: unknown; stream?: unknown } = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      // Not JSON: answered as an unknown model below.
    }
    switch (body.model) {
      case BAD_MODELS.fractionalUsage:
        return fractionalUsage(response, body.stream === true);
      case BAD_MODELS.status999:
        return void json(response, 999, { error: { message: 'status 999', type: 'weird', param: null, code: 999 } });
      case BAD_MODELS.hugeErrorBody:
        return hugeError(response);
      case BAD_MODELS.midStreamReset:
        return midStreamReset(response);
      case BAD_MODELS.acceptsAnything:
        return void json(response, 200, { count: 1, max_model_len: 4096, tokens: [1] });
      default:
        return void json(response, 404, { error: { message: 'unknown model', type: 'NotFoundError', param: null, code: 404 } });
    }
  }

  function hugeError(response: ServerResponse): void {
    response.writeHead(500, { 'content-type': 'application/json', 'content-length': HUGE_ERROR_BYTES });
    const block = Buffer.alloc(64 * 1024, 0x20);
    block.write('{"error":{"message":"huge","type":"x","param":null,"code":500},"pad":"');
    const write = (): void => {
      while (hugeBody.written < HUGE_ERROR_BYTES) {
        const size = Math.min(block.length, HUGE_ERROR_BYTES - hugeBody.written);
        const last = hugeBody.written + size === HUGE_ERROR_BYTES;
        const piece = last ? Buffer.concat([block.subarray(0, size - 2), Buffer.from('"}')]) : block.subarray(0, size);
        hugeBody.written += size;
        if (last) {
          hugeBody.complete = true;
          response.end(piece);
          return;
        }
        if (!response.write(piece)) {
          response.once('drain', write);
          return;
        }
      }
    };
    response.on('close', () => response.removeAllListeners('drain'));
    write();
  }

  function fractionalUsage(response: ServerResponse, stream: boolean): void {
    const usage = { prompt_tokens: 3.5, completion_tokens: 2.25, total_tokens: 5.75 };
    const id = 'chatcmpl-chaos';
    if (!stream) {
      return void json(response, 200, {
        id,
        object: 'chat.completion',
        created: 1,
        model: BAD_MODELS.fractionalUsage,
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage,
      });
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (choices: unknown[], extra: object = {}): string =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: BAD_MODELS.fractionalUsage, choices, ...extra })}\n\n`;
    response.end(
      chunk([{ index: 0, delta: { role: 'assistant', content: 'hi' }, finish_reason: null }]) +
        chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) +
        chunk([], { usage }) +
        'data: [DONE]\n\n',
    );
  }

  function midStreamReset(response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (content: string): string =>
      `data: ${JSON.stringify({ id: 'chatcmpl-reset', object: 'chat.completion.chunk', created: 1, model: BAD_MODELS.midStreamReset, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
    response.write(event('one '));
    response.write(event('two '));
    setTimeout(() => response.socket?.resetAndDestroy(), 100);
  }

  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    hugeBody,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
