import { describe, expect, it } from 'vitest';
import { ErrorBodyCollector } from '../../../src/proxy/error-body-collector.js';
import { classifyTransportError } from '../../../src/proxy/transport-errors.js';
import { normaliseUpstreamError } from '../../../src/proxy/upstream-error-body.js';

const body = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('normaliseUpstreamError', () => {
  it('turns vLLM nested errors (integer code) into the OpenAI envelope', () => {
    expect(
      normaliseUpstreamError(400, body({ error: { message: 'max_tokens is too large', type: 'BadRequestError', param: 'max_tokens', code: 400 } }), false),
    ).toEqual({ error: { message: 'max_tokens is too large', type: 'invalid_request_error', param: 'max_tokens', code: null } });
  });

  it('handles the legacy flat shape and recognises a missing model', () => {
    expect(
      normaliseUpstreamError(404, body({ object: 'error', message: 'The model `x` does not exist.', type: 'NotFoundError', param: 'model', code: 404 }), false),
    ).toEqual({ error: { message: 'The model `x` does not exist.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
  });

  it('handles vLLM --api-key rejections', () => {
    expect(normaliseUpstreamError(401, body({ error: 'Unauthorized' }), false)).toEqual({
      error: { message: 'Unauthorized', type: 'invalid_request_error', param: null, code: null },
    });
  });

  it('keeps string codes, and types 429 and 5xx', () => {
    expect(normaliseUpstreamError(429, body({ error: { message: 'slow down', code: 'rate_limit_exceeded' } }), false).error).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
    });
    expect(normaliseUpstreamError(503, body({ error: { message: 'overloaded' } }), false).error.type).toBe('server_error');
  });

  it('wraps text, HTML and empty bodies', () => {
    expect(normaliseUpstreamError(502, body('<html>bad gateway</html>'), false).error.message).toBe('<html>bad gateway</html>');
    expect(normaliseUpstreamError(500, body(''), false).error.message).toBe('The replica answered HTTP 500 with an empty body.');
    expect(normaliseUpstreamError(500, body('x'.repeat(600)), false).error.message).toHaveLength(513);
    expect(normaliseUpstreamError(500, body('{"error":{"mess'), true).error.message).toBe('{"error":{"mess…');
  });
});

describe('classifyTransportError', () => {
  const withCode = (code: string): Error => Object.assign(new Error(code), { code });

  it.each([
    ['ECONNREFUSED', 'upstream_unreachable'],
    ['ENOTFOUND', 'upstream_unreachable'],
    ['ECONNRESET', 'upstream_connection_reset'],
    ['UND_ERR_SOCKET', 'upstream_connection_reset'],
    ['UND_ERR_HEADERS_TIMEOUT', 'upstream_timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'upstream_timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'upstream_timeout'],
    ['HPE_INVALID_CONSTANT', 'upstream_bad_response'],
  ])('%s → %s', (code, expected) => {
    expect(classifyTransportError(withCode(code), false)).toBe(expected);
  });

  it('looks through a wrapping error to its cause', () => {
    expect(classifyTransportError(new Error('fetch failed', { cause: withCode('ECONNREFUSED') }), false)).toBe('upstream_unreachable');
  });

  it.each([
    ['ECONNRESET', 'upstream_stream_interrupted'],
    ['UND_ERR_SOCKET', 'upstream_stream_interrupted'],
    ['EPIPE', 'upstream_stream_interrupted'],
    ['UND_ERR_BODY_TIMEOUT', 'upstream_timeout'],
    ['HPE_INVALID_CHUNK_SIZE', 'upstream_bad_response'],
  ])('after the replica answered: %s → %s (a reset cut the answer, not the wait for it)', (code, expected) => {
    expect(classifyTransportError(withCode(code), true)).toBe(expected);
  });
});

describe('ErrorBodyCollector', () => {
  it('keeps at most the limit and says when the rest is not worth reading', () => {
    const collector = new ErrorBodyCollector(500, {}, 10);
    expect(collector.add(Buffer.from('12345'))).toBe(false);
    expect(collector.add(Buffer.from('67890'))).toBe(false);
    expect(collector.add(Buffer.from('x'))).toBe(true);
    expect(collector.body().error.message).toBe('1234567890…');

    const oneChunk = new ErrorBodyCollector(500, {}, 4);
    expect(oneChunk.add(Buffer.from('abcdefgh'))).toBe(true);
    expect(oneChunk.body().error.message).toBe('abcd…');
  });
});
