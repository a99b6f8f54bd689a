import { describe, expect, it } from 'vitest';
import { reservationOf } from '../../../src/ratelimit/reservation.js';
import { ESTIMATE_MAX_VALUES, estimatePromptTokens } from '../../../src/lifecycle/token-estimate.js';

/** `depth` arrays, one inside the other, around `core`, built without recursion. */
function nested(depth: number, core: unknown): unknown {
  let value = core;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('estimatePromptTokens over client JSON', () => {
  it('walks any nesting depth without the call stack', () => {
    expect(estimatePromptTokens({ input: nested(100_000, 'abcdefgh') })).toBe(2);
    expect(estimatePromptTokens({ messages: [{ content: nested(500_000, { text: 'abcd' }) }] })).toBe(1);
    expect(estimatePromptTokens(JSON.parse(`{"input":${'['.repeat(100_000)}${']'.repeat(100_000)}}`))).toBe(0);
  });

  it('reserves for a deeply nested body instead of throwing', () => {
    expect(reservationOf({ input: nested(100_000, 'abcd') }, 'tokenize', { defaultMaxTokens: 16 })).toBe(1);
  });

  it('visits a bounded number of values, however many the body holds', () => {
    const ids = Array.from({ length: ESTIMATE_MAX_VALUES * 3 }, () => 7);
    // Each id counts as one token; the walk stops at the bound.
    expect(estimatePromptTokens({ prompt: ids })).toBeLessThanOrEqual(ESTIMATE_MAX_VALUES);
    expect(estimatePromptTokens({ prompt: ids })).toBeGreaterThan(ESTIMATE_MAX_VALUES / 2);
    const wide = Array.from({ length: 2_000 }, () => Array.from({ length: 2_000 }, () => 'ab'));
    expect(estimatePromptTokens({ input: wide })).toBeLessThanOrEqual(ESTIMATE_MAX_VALUES / 2);
  });

  it('counts what it counted before: strings, token ids, text and content of parts', () => {
    expect(estimatePromptTokens({ messages: [{ content: 'abcd' }, { content: [{ type: 'text', text: 'abcdefgh' }] }, null, 'loose'] })).toBe(3);
    expect(estimatePromptTokens({ prompt: ['abcd', 'ab'], input: [1, 2, 3] })).toBe(5);
    expect(estimatePromptTokens({ input: [{ content: [{ text: 'abcd' }, { content: 'efgh' }] }] })).toBe(2);
  });
});
