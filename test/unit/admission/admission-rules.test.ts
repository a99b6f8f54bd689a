import { describe, expect, it } from 'vitest';
import { mayUseModel } from '../../../src/auth/model-access.js';
import { requestedCompletionTokens, reservationOf } from '../../../src/ratelimit/reservation.js';

describe('mayUseModel', () => {
  it('allows exact names, "*" and prefix patterns, and nothing else', () => {
    expect(mayUseModel(['llama-3-8b'], 'llama-3-8b')).toBe(true);
    expect(mayUseModel(['llama-3-8b'], 'llama-3-70b')).toBe(false);
    expect(mayUseModel(['*'], 'anything')).toBe(true);
    expect(mayUseModel(['qwen-*', 'mistral'], 'qwen-2.5-7b')).toBe(true);
    expect(mayUseModel(['qwen-*'], 'qwen')).toBe(false);
    expect(mayUseModel(['qwen-*'], 'my-qwen-2')).toBe(false);
  });

  it('treats a request that names no model as one for any model: only "*" allows it', () => {
    expect(mayUseModel(['*'], undefined)).toBe(true);
    expect(mayUseModel(['llama-3-8b', '*'], undefined)).toBe(true);
    expect(mayUseModel(['llama-3-8b'], undefined)).toBe(false);
    expect(mayUseModel(['llama-*'], undefined)).toBe(false);
  });
});

describe('requestedCompletionTokens', () => {
  it('reads the cap each API names, preferring max_completion_tokens, times n', () => {
    expect(requestedCompletionTokens({ max_tokens: 100 }, 'chat')).toBe(100);
    expect(requestedCompletionTokens({ max_tokens: 100, max_completion_tokens: 40 }, 'chat')).toBe(40);
    expect(requestedCompletionTokens({ max_output_tokens: 64 }, 'chat')).toBe(64);
    expect(requestedCompletionTokens({ max_tokens: 50, n: 3 }, 'text_completion')).toBe(150);
  });

  it('is undefined without a cap (the configured default applies) and ignores nonsense values', () => {
    expect(requestedCompletionTokens({}, 'chat')).toBeUndefined();
    expect(requestedCompletionTokens({ max_tokens: -5 }, 'chat')).toBeUndefined();
    expect(requestedCompletionTokens({ max_tokens: '100' }, 'chat')).toBeUndefined();
    expect(requestedCompletionTokens({ max_tokens: 10, n: 0 }, 'chat')).toBe(10);
  });

  it('never reserves more than a whole number the stores can charge: "n": 1e307 once made the reservation Infinity', () => {
    const huge = requestedCompletionTokens({ max_output_tokens: 2, n: 8.98846567431158e307 }, 'chat');
    expect(huge).toBe(2);
    const product = requestedCompletionTokens({ max_tokens: 2 ** 40, n: 2 ** 30 }, 'chat');
    expect(product).toBe(Number.MAX_SAFE_INTEGER);
    expect(reservationOf({ messages: [{ role: 'user', content: 'hi' }], max_tokens: Number.MAX_SAFE_INTEGER }, 'chat', { defaultMaxTokens: 16 })).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('reserves no completion for operations that generate nothing', () => {
    expect(requestedCompletionTokens({ input: 'x', max_tokens: 100 }, 'embeddings')).toBe(0);
    expect(requestedCompletionTokens({ query: 'q' }, 'rerank')).toBe(0);
  });

  it('treats a pass-through body as generating only when it names max_tokens', () => {
    expect(requestedCompletionTokens({ max_tokens: 12 }, undefined)).toBe(12);
    expect(requestedCompletionTokens({ input: 'x' }, undefined)).toBe(0);
    expect(requestedCompletionTokens(undefined, undefined)).toBe(0);
  });
});
