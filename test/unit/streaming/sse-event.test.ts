import { describe, expect, it } from 'vitest';

import { classifyEvent, createDataLocation, isDonePayload, locateData, payloadText } from '../../../src/streaming/sse-event.js';

function dataOf(event: string): string | undefined {
  const buf = Buffer.from(event);
  const location = createDataLocation();
  return locateData(buf, 0, buf.length, location) ? payloadText(buf, location) : undefined;
}

const HEAD = '"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m"';
const chat = (choices: string, tail = ''): string => `{${HEAD},"choices":[${choices}]${tail}}`;
const choice = (delta: string, finish = 'null', index = 0): string => `{"index":${index},"delta":${delta},"logprobs":null,"finish_reason":${finish}}`;

describe('locateData', () => {
  it('reads one data line, with or without the single optional space', () => {
    expect(dataOf('data: {"a":1}\n\n')).toBe('{"a":1}');
    expect(dataOf('data:{"a":1}\n\n')).toBe('{"a":1}');
    expect(dataOf('data:  x\r\n\r\n')).toBe(' x');
    expect(dataOf('data\n\n')).toBe('');
  });

  it('joins several data lines with LF and ignores comments and other fields', () => {
    expect(dataOf('event: message\nid: 7\nretry: 10\n: note\ndata: {"a":\r\ndata:1}\rdata: \n\n')).toBe('{"a":\n1}\n');
    expect(dataOf(': comment\ndata: x\nid: 1\n\n')).toBe('x');
  });

  it('finds nothing in comment-only keep-alives and field-only events', () => {
    expect(dataOf(': ping\n\n')).toBeUndefined();
    expect(dataOf(':\n\n')).toBeUndefined();
    expect(dataOf('event: ping\nid: 3\nretry: 1000\n\n')).toBeUndefined();
    expect(dataOf('database: x\n\n')).toBeUndefined();
  });

  it('takes the single-line shortcut when told the event has one line', () => {
    const buf = Buffer.from('xx data: [DONE]\r\n\r\n');
    const location = createDataLocation();
    expect(locateData(buf, 3, buf.length, location, true)).toBe(true);
    expect(isDonePayload(buf, location)).toBe(true);
    expect(locateData(buf, 0, 3, location, true)).toBe(false);
  });
});

describe('classifyEvent', () => {
  const kind = (payload: string): string => classifyEvent(Buffer.from(`data: ${payload}\n\n`)).kind;

  it('tells content from the role chunk, the empty finish chunk, [DONE] and keep-alives', () => {
    expect(kind(chat(choice('{"role":"assistant","content":""}')))).toBe('other');
    expect(kind(chat(choice('{"content":"Hi"}')))).toBe('content');
    expect(kind(chat(choice('{"content":""}', '"stop"')))).toBe('other');
    expect(kind(chat(choice('{"content":null}')))).toBe('other');
    expect(kind('[DONE]')).toBe('done');
    expect(classifyEvent(Buffer.from(': ping\n\n')).kind).toBe('none');
  });

  it('counts reasoning (both field names) and non-empty tool_calls as content', () => {
    expect(kind(chat(choice('{"reasoning_content":"hmm"}')))).toBe('content');
    expect(kind(chat(choice('{"reasoning":"hmm"}')))).toBe('content');
    expect(kind(chat(choice('{"reasoning_content":""}')))).toBe('other');
    expect(kind(chat(choice('{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}')))).toBe('content');
    expect(kind(chat(choice('{"tool_calls":[]}')))).toBe('other');
  });

  it('reads completions text, n>1 choices and finish reasons in choice order', () => {
    expect(kind('{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" a","finish_reason":null}]}')).toBe('content');
    expect(kind('{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"","finish_reason":"length"}]}')).toBe('other');
    const two = classifyEvent(Buffer.from(`data: ${chat(`${choice('{"content":""}', '"stop"')},${choice('{"content":"x"}', '"length"', 1)}`)}\n\n`));
    expect(two.kind).toBe('content');
    expect(two.parsed?.finishReasons).toEqual(['stop', 'length']);
  });

  it('separates the usage-only event from chunks that also carry usage', () => {
    const usage = ',"usage":{"prompt_tokens":5,"total_tokens":8,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}';
    const only = classifyEvent(Buffer.from(`data: ${chat('', usage)}\n\n`));
    expect(only.kind).toBe('usage-only');
    expect(only.parsed?.usage).toEqual({ promptTokens: 5, completionTokens: 3, totalTokens: 8, cachedPromptTokens: 4 });
    expect(kind(chat(choice('{"content":"a"}'), usage))).toBe('content');
    expect(kind(chat('', ',"usage":null'))).toBe('other');
  });

  it('reads in-band errors in vLLM and OpenAI shapes', () => {
    const vllm = classifyEvent(Buffer.from('data: {"error": {"message": "boom", "type": "InternalServerError", "param": null, "code": 500}}\n\n'));
    expect(vllm).toMatchObject({ kind: 'error', parsed: { error: { message: 'boom', type: 'InternalServerError', code: 500 } } });
    const openai = classifyEvent(Buffer.from('data: {"error":{"message":"m","type":"server_error","param":null,"code":"upstream_error"}}\n\n'));
    expect(openai.parsed?.error).toEqual({ message: 'm', type: 'server_error', code: 'upstream_error' });
    expect(classifyEvent(Buffer.from('data: {"error":"Unauthorized"}\n\n')).parsed?.error).toEqual({ message: 'Unauthorized', type: null, code: null });
  });

  it('calls anything that is not a JSON object invalid, without throwing', () => {
    for (const payload of ['{not json', '[1,2]', '42', '"s"', 'null', '']) expect(kind(payload)).toBe('invalid');
  });
});
