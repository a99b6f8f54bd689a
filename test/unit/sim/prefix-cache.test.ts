import { describe, expect, it } from 'vitest';

import { PrefixCache } from '../../../src/sim/prefix-cache.js';

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe('PrefixCache', () => {
  it('counts only whole blocks of a shared prefix as cached', () => {
    const cache = new PrefixCache(4, 100);
    expect(cache.lookupAndInsert(range(0, 10)).cachedTokens).toBe(0);
    // Same first 8 tokens (2 blocks), different tail.
    expect(cache.lookupAndInsert([...range(0, 8), 99, 98, 97]).cachedTokens).toBe(8);
    // A different first token changes every chained block hash.
    expect(cache.lookupAndInsert([7, ...range(1, 9)]).cachedTokens).toBe(0);
  });

  it('recomputes at least the last token, like vLLM, on a full hit', () => {
    const cache = new PrefixCache(4, 100);
    cache.lookupAndInsert(range(0, 8));
    expect(cache.lookupAndInsert(range(0, 8)).cachedTokens).toBe(4);
  });

  it('evicts the least recently used blocks beyond capacity and reports usage', () => {
    const cache = new PrefixCache(2, 3);
    cache.lookupAndInsert(range(0, 6)); // 3 blocks, full
    expect(cache.usage()).toBe(1);
    cache.lookupAndInsert(range(100, 2)); // evicts the oldest block (the first of the prefix)
    expect(cache.size).toBe(3);
    expect(cache.lookupAndInsert(range(0, 7)).cachedTokens).toBe(0);
  });
});
