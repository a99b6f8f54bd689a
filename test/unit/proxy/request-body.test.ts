import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { multipartField, parseJsonBody, resolveRoutingFields } from '../../../src/proxy/request-body.js';

const chatEndpoint = { body: 'json', modelRequired: true } as const;
const tokenizeEndpoint = { body: 'json', modelRequired: false } as const;
const audioEndpoint = { body: 'multipart', modelRequired: true } as const;

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return (error as GatewayError).code;
  }
  throw new Error('expected a GatewayError');
}

function multipart(boundary: string, parts: Array<{ name: string; value: string; filename?: string }>): Buffer {
  const text = parts
    .map(
      (part) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}\r\n\r\n${part.value}\r\n`,
    )
    .join('');
  return Buffer.from(`${text}--${boundary}--\r\n`);
}

describe('request bodies', () => {
  it('keeps the exact bytes and parses JSON once', () => {
    const raw = Buffer.from('{ "model" : "m", "stream": true }');
    const body = parseJsonBody(raw);
    expect(body.raw).toBe(raw);
    expect(resolveRoutingFields(chatEndpoint, body, 'application/json')).toEqual({ model: 'm', stream: true });
  });

  it('rejects what cannot be routed with the right code', () => {
    expect(codeOf(() => parseJsonBody(Buffer.from('{"model":')))).toBe('invalid_json');
    expect(codeOf(() => parseJsonBody(Buffer.alloc(0)))).toBe('invalid_json');
    expect(codeOf(() => resolveRoutingFields(chatEndpoint, parseJsonBody(Buffer.from('[1]')), 'application/json'))).toBe('invalid_request_body');
    expect(codeOf(() => resolveRoutingFields(chatEndpoint, parseJsonBody(Buffer.from('{}')), 'application/json'))).toBe('missing_model');
    expect(codeOf(() => resolveRoutingFields(chatEndpoint, parseJsonBody(Buffer.from('{"model":7}')), 'application/json'))).toBe('invalid_request_body');
    expect(codeOf(() => resolveRoutingFields(chatEndpoint, parseJsonBody(Buffer.from('{"model":"m","stream":"yes"}')), 'application/json'))).toBe('invalid_request_body');
    expect(codeOf(() => resolveRoutingFields(chatEndpoint, { raw: Buffer.from('hi'), json: undefined }, 'text/plain'))).toBe('unsupported_media_type');
    expect(codeOf(() => resolveRoutingFields(chatEndpoint, undefined, undefined))).toBe('invalid_request_body');
  });

  it('lets vLLM extras and pass-through paths go without a model', () => {
    expect(resolveRoutingFields(tokenizeEndpoint, parseJsonBody(Buffer.from('{"prompt":"hi"}')), 'application/json')).toEqual({ model: undefined, stream: false });
    expect(resolveRoutingFields(undefined, undefined, undefined)).toEqual({ model: undefined, stream: false });
  });

  it('finds the model of a multipart upload without touching the file part', () => {
    const boundary = '----form7MA4YWxk';
    const raw = multipart(boundary, [
      { name: 'file', filename: 'a.wav', value: 'name="model"\r\n\r\nnot-this' },
      { name: 'model', value: 'whisper-large-v3' },
    ]);
    const contentType = `multipart/form-data; boundary=${boundary}`;
    expect(multipartField(raw, contentType, 'model')).toBe('whisper-large-v3');
    expect(resolveRoutingFields(audioEndpoint, { raw, json: undefined }, contentType)).toEqual({ model: 'whisper-large-v3', stream: false });
    expect(multipartField(raw, 'multipart/form-data; boundary="----form7MA4YWxk"', 'language')).toBeUndefined();
    expect(codeOf(() => resolveRoutingFields(audioEndpoint, { raw: multipart(boundary, [{ name: 'file', value: 'x', filename: 'a' }]), json: undefined }, contentType))).toBe('missing_model');
  });
});
