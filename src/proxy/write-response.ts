import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { OpenAiErrorBody } from '../errors/catalogue.js';
import type { GatewayError } from '../errors/gateway-error.js';

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

/** The error envelope for a request the gateway failed after it took over the raw response. */
export function writeGatewayError(response: ServerResponse, error: GatewayError, requestId: string): number {
  return writeJson(response, error.status, error.toBody(), { 'x-request-id': requestId });
}
