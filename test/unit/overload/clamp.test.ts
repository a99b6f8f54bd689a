import { describe, expect, it } from 'vitest';
import { clampCompletionCap } from '../../../src/overload/clamp.js';
import { parseJsonBody } from '../../../src/proxy/request-body.js';

function clamp(text: string, operation: string | undefined, ceiling = 256): string | undefined {
  return clampCompletionCap(parseJsonBody(Buffer.from(text)), operation, ceiling)?.raw.toString('utf8');
}

describe('clampCompletionCap', () => {
  it('lowers max_tokens above the ceiling and keeps every other byte as sent', () => {
    const text = '{ "model" : "m",\n  "seed": 12345678901234567890, "messages":[{"role":"user","content":"caf\\u00e9 \\"q\\""}],\t"max_tokens": 4096 , "temperature":0.70}';
    const clamped = clamp(text, 'chat')!;
    expect(clamped).toBe('{"max_tokens":256,"model" : "m","seed": 12345678901234567890,"messages":[{"role":"user","content":"caf\\u00e9 \\"q\\""}],"temperature":0.70}');
    const body = clampCompletionCap(parseJsonBody(Buffer.from(text)), 'chat', 256)!;
    expect(body.json).toMatchObject({ max_tokens: 256, temperature: 0.7 });
    expect(JSON.parse(body.raw.toString('utf8'))).toEqual(body.json === undefined ? undefined : { ...(JSON.parse(text) as object), max_tokens: 256 });
  });

  it('adds max_tokens when the client set no cap, or a null one', () => {
    expect(clamp('{"model":"m","messages":[]}', 'chat')).toBe('{"max_tokens":256,"model":"m","messages":[]}');
    expect(clamp('{"model":"m","max_tokens":null,"prompt":"x"}', 'text_completion')).toBe('{"max_tokens":256,"model":"m","prompt":"x"}');
  });

  it('lowers max_completion_tokens too, every duplicate and escaped spelling of it', () => {
    const text = '{"model":"m","max_completion_tokens":900,"messages":[],"max_\\u0063ompletion_tokens":1000}';
    expect(clamp(text, 'chat')).toBe('{"max_completion_tokens":256,"model":"m","messages":[]}');
    expect(clamp('{"model":"m","max_tokens":100,"max_completion_tokens":2000}', 'chat')).toBe('{"max_completion_tokens":256,"model":"m","max_tokens":100}');
  });

  it('leaves a body alone that asks for no more than the ceiling, a cap that is not a number, and non-generating operations', () => {
    expect(clamp('{"model":"m","max_tokens":256}', 'chat')).toBeUndefined();
    expect(clamp('{"model":"m","max_completion_tokens":10}', 'chat')).toBeUndefined();
    expect(clamp('{"model":"m","max_tokens":"lots"}', 'chat')).toBeUndefined();
    expect(clamp('{"model":"m","input":"x"}', 'embeddings')).toBeUndefined();
    expect(clamp('{"model":"m","max_tokens":4096}', undefined)).toBeUndefined();
    // max_completion_tokens means nothing to the completions endpoint.
    expect(clamp('{"model":"m","prompt":"p","max_tokens":9000,"max_completion_tokens":9000}', 'text_completion')).toBe('{"max_tokens":256,"model":"m","prompt":"p","max_completion_tokens":9000}');
  });
});
