import { describe, expect, it } from 'vitest';
import { usageFromJsonTail } from '../../../src/proxy/body-usage.js';
import { withStreamUsage } from '../../../src/proxy/stream-usage-request.js';

const rewrite = (text: string) => withStreamUsage(Buffer.from(text), JSON.parse(text))?.toString();

describe('withStreamUsage', () => {
  it('splices the option in and leaves the rest of the bytes as sent', () => {
    const sent = '{ "model":"m",  "stream":true, "messages":[{"role":"user","content":"caf\\u00e9"}]}';
    expect(rewrite(sent)).toBe('{"stream_options":{"include_usage":true}, "model":"m",  "stream":true, "messages":[{"role":"user","content":"caf\\u00e9"}]}');
    expect(JSON.parse(rewrite(sent)!)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('keeps other stream options when it has to re-serialise', () => {
    expect(JSON.parse(rewrite('{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":1}}')!)).toEqual({
      model: 'm',
      stream: true,
      stream_options: { include_usage: true, x: 1 },
    });
  });

  it('leaves alone what already asks for usage, is not a stream, or wants continuous usage', () => {
    expect(rewrite('{"model":"m","stream":true,"stream_options":{"include_usage":true}}')).toBeUndefined();
    expect(rewrite('{"model":"m","stream":false}')).toBeUndefined();
    expect(rewrite('{"model":"m"}')).toBeUndefined();
    expect(rewrite('{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":true}}')).toBeUndefined();
  });
});

describe('usageFromJsonTail', () => {
  it('reads chat usage, with cached tokens, from the end of a body', () => {
    const body = `{"id":"x","choices":[{"message":{"content":"usage: {not this}"}}],"usage":{"prompt_tokens":12,"total_tokens":20,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":4}},"prompt_logprobs":null}`;
    expect(usageFromJsonTail(Buffer.from(body))).toEqual({ promptTokens: 12, completionTokens: 8, totalTokens: 20, cachedPromptTokens: 4 });
  });

  it('reads embeddings and Responses API usage', () => {
    expect(usageFromJsonTail(Buffer.from('{"data":[],"usage":{"prompt_tokens":5,"total_tokens":5}}'))).toEqual({
      promptTokens: 5,
      completionTokens: 0,
      totalTokens: 5,
      cachedPromptTokens: undefined,
    });
    expect(usageFromJsonTail(Buffer.from('{"usage": {"input_tokens":3,"output_tokens":4,"total_tokens":7,"input_tokens_details":{"cached_tokens":0}}}'))).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 7,
      cachedPromptTokens: 0,
    });
  });

  it('gives up cleanly on bodies without a complete usage object', () => {
    expect(usageFromJsonTail(Buffer.from('{"ok":true}'))).toBeUndefined();
    expect(usageFromJsonTail(Buffer.from('"usage":{"prompt_tokens":1'))).toBeUndefined();
    expect(usageFromJsonTail(Buffer.from('"usage":null}'))).toBeUndefined();
  });
});
