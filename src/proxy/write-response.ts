import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { OpenAiErrorBody } from '../errors/catalogue.js';

/** Writes a complete JSON response on a raw Node response; returns the body length in bytes. */
export function writeJson(
  response: ServerResponse,
  status: number,
  body: OpenAiErrorBody | Record<string, unknown>,
  headers: OutgoingHttpHeaders = {},
): number {
  const payload = JSON.stringify(body);
  const length = Buffer.byteLength(payload);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': length,
  });
  response.end(payload);
  return length;
}
