import { describe, expect, it } from 'vitest';
import { rewriteRequestHeaders, rewriteResponseHeaders } from '../../../src/proxy/headers.js';

describe('rewriteRequestHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection, and sets the gateway-owned ones', () => {
    const outgoing = rewriteRequestHeaders(
      {
        host: 'gateway:8080',
        connection: 'keep-alive, x-drop-me',
        'keep-alive': 'timeout=5',
        'x-drop-me': '1',
        'transfer-encoding': 'chunked',
        'content-length': '999',
        'x-request-id': 'from-client',
        'content-type': 'application/json',
        authorization: 'Bearer client',
        'user-agent': 'OpenAI/JS 6',
      },
      { requestId: 'rid-1', bodyLength: 42, replicaApiKey: undefined, stripClientCredentials: false },
    );
    expect(outgoing).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer client',
      'user-agent': 'OpenAI/JS 6',
      'x-request-id': 'rid-1',
      'content-length': '42',
    });
  });

  it('replaces the client credentials with the replica key when one is configured', () => {
    const outgoing = rewriteRequestHeaders({ authorization: 'Bearer client' }, { requestId: 'r', bodyLength: undefined, replicaApiKey: 'replica', stripClientCredentials: true });
    expect(outgoing.authorization).toBe('Bearer replica');
    expect(outgoing['content-length']).toBeUndefined();
  });

  it('never passes a key the gateway checked itself on to the replica', () => {
    const outgoing = rewriteRequestHeaders(
      { authorization: 'Bearer sk-tb-secret', 'x-api-key': 'sk-tb-secret', 'api-key': 'sk-tb-secret', accept: 'text/event-stream' },
      { requestId: 'r', bodyLength: undefined, replicaApiKey: undefined, stripClientCredentials: true },
    );
    expect(outgoing).toEqual({ accept: 'text/event-stream', 'x-request-id': 'r' });
  });
});

describe('rewriteResponseHeaders', () => {
  it('keeps end-to-end headers and stamps the gateway request id', () => {
    expect(
      rewriteResponseHeaders(
        {
          'content-type': 'text/event-stream; charset=utf-8',
          'transfer-encoding': 'chunked',
          connection: 'keep-alive',
          'x-request-id': 'replica-id',
          'retry-after': '3',
        },
        'rid-2',
      ),
    ).toEqual({ 'content-type': 'text/event-stream; charset=utf-8', 'retry-after': '3', 'x-request-id': 'rid-2' });
  });
});
