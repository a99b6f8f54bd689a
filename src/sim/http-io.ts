import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

import { nowMs } from './clock.js';
import type { TruthRecord } from './truth.js';

export const JSON_CONTENT_TYPE = 'application/json';
/** Starlette appends the charset to text/* media types, so vLLM sends exactly this. */
export const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';
const SERVER_HEADER = 'uvicorn';

/** Reads the whole body as one Buffer, or null when it exceeds `limitBytes`. */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Writes a complete response and records the status and header time in the truth record. */
export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string | null,
  body: string,
  requestId: string | null,
  truth: TruthRecord | null = null,
): void {
  if (res.destroyed || res.headersSent) return;
  const headers: OutgoingHttpHeaders = { server: SERVER_HEADER, 'content-length': Buffer.byteLength(body) };
  if (contentType !== null) headers['content-type'] = contentType;
  if (requestId !== null) headers['x-request-id'] = requestId;
  if (truth !== null) {
    truth.status = status;
    truth.headersSentAt = nowMs();
  }
  res.writeHead(status, headers);
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: string, requestId: string | null, truth: TruthRecord | null = null): void {
  sendBody(res, status, JSON_CONTENT_TYPE, body, requestId, truth);
}

/** Sends SSE headers right away: uvicorn flushes them before the engine produces anything. */
export function startEventStream(res: ServerResponse, requestId: string, truth: TruthRecord): void {
  truth.status = 200;
  truth.headersSentAt = nowMs();
  res.writeHead(200, { server: SERVER_HEADER, 'content-type': SSE_CONTENT_TYPE, 'x-request-id': requestId });
  res.flushHeaders();
}
