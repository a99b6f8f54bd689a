import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { clientErrorCode, connectionLimitOptions, rawErrorResponse } from '../../../src/server/client-connections.js';

describe('client connection limits', () => {
  it("maps Node's parser and deadline errors to catalogue codes", () => {
    expect(clientErrorCode('ERR_HTTP_REQUEST_TIMEOUT')).toBe('request_timeout');
    expect(clientErrorCode('HPE_HEADER_OVERFLOW')).toBe('request_headers_too_large');
    expect(clientErrorCode('HPE_CHUNK_EXTENSIONS_OVERFLOW')).toBe('request_too_large');
    expect(clientErrorCode('HPE_INVALID_METHOD')).toBe('malformed_http_request');
    expect(clientErrorCode(undefined)).toBe('malformed_http_request');
  });

  it('writes a complete HTTP/1.1 answer whose body is the OpenAI envelope and whose length is in bytes', () => {
    const error = new GatewayError('request_timeout', 'Pas de corps reçu à temps.');
    const raw = rawErrorResponse(error);
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    expect(head.split('\r\n')).toEqual(['HTTP/1.1 408 Request Timeout', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close']);
    expect(JSON.parse(body)).toEqual(error.toBody());
  });

  it("gives Node's http server the configured deadlines and a check interval far below them", () => {
    const { server } = parseConfig({ replicas: [{ url: 'http://127.0.0.1:8000', models: ['m'] }], auth: { enabled: false } });
    const options = connectionLimitOptions(server);
    expect(options.requestTimeout).toBe(600_000);
    expect(options.http).toMatchObject({ headersTimeout: 30_000, requestTimeout: 600_000 });
    expect(options.http.connectionsCheckingInterval).toBeLessThanOrEqual(1_000);
  });
});
