import { describe, expect, it } from 'vitest';

import { errorBody, streamErrorFrame } from '../../../src/sim/errors.js';
import { StreamFramer } from '../../../src/sim/frames.js';

const header = { id: 'chatcmpl-1', created: 1700000000, model: 'm"odel' };
const parse = (frame: string): unknown => {
  expect(frame.startsWith('data: ')).toBe(true);
  expect(frame.endsWith('\n\n')).toBe(true);
  return JSON.parse(frame.slice(6));
};

describe('StreamFramer', () => {
  it('builds chat frames that equal vLLM field order and parse as JSON', () => {
    const framer = new StreamFramer('chat', header, 1, false);
    expect(framer.roleChunk(0, null)).toBe(
      'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m\\"odel","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"prompt_token_ids":null}\n\n',
    );
    expect(parse(framer.content(0, ' hi\\n', null))).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'm"odel',
      choices: [{ index: 0, delta: { content: ' hi\n' }, logprobs: null, finish_reason: null, token_ids: null }],
    });
    const final = parse(framer.final(0, '.', 'stop', null)) as { choices: Array<Record<string, unknown>> };
    expect(final.choices[0]).toMatchObject({ finish_reason: 'stop', stop_reason: null });
    expect(framer.usage({ promptTokens: 3, completionTokens: 2, cachedTokens: null })).toContain(
      '"choices":[],"usage":{"prompt_tokens":3,"total_tokens":5,"completion_tokens":2}}',
    );
  });

  it('puts continuous usage after choices and cached tokens in prompt_tokens_details', () => {
    const framer = new StreamFramer('completion', header, 2, true);
    const chunk = parse(framer.content(1, 'x', { promptTokens: 4, completionTokens: 1, cachedTokens: null })) as Record<string, unknown>;
    expect(Object.keys(chunk)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    expect(chunk['object']).toBe('text_completion');
    expect(framer.roleChunk(0, null)).toBeNull();
    expect(parse(framer.usage({ promptTokens: 4, completionTokens: 1, cachedTokens: 2 }))).toMatchObject({
      usage: { prompt_tokens_details: { cached_tokens: 2 } },
    });
  });
});

describe('error bodies', () => {
  it('has the nested (current) and legacy (flat) vLLM shapes', () => {
    expect(errorBody('nested', 'bad', 400)).toBe('{"error":{"message":"bad","type":"BadRequestError","param":null,"code":400}}');
    expect(errorBody('legacy', 'gone', 404, 'model')).toBe(
      '{"object":"error","message":"gone","type":"NotFoundError","param":"model","code":404}',
    );
    expect(parse(streamErrorFrame('nested', 'boom', 500))).toEqual({
      error: { message: 'boom', type: 'InternalServerError', param: null, code: 500 },
    });
  });
});
