import { describe, expect, it } from 'vitest';

import { createPrng, hashBytes, hashString, hexId } from '../../../src/sim/prng.js';
import { generateTokenIds } from '../../../src/sim/text-generator.js';
import { PERIOD_ID } from '../../../src/sim/tokenizer.js';

describe('prng', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = createPrng(42);
    const b = createPrng(42);
    const c = createPrng(43);
    const seqA = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(seqA);
  });

  it('draws integers inside the inclusive range, covering both ends', () => {
    const prng = createPrng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const value = prng.int(3, 6);
      expect(value).toBeGreaterThanOrEqual(3);
      expect(value).toBeLessThanOrEqual(6);
      seen.add(value);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });

  it('hashes strings and bytes consistently', () => {
    expect(hashString('abc')).toBe(hashBytes(Buffer.from('abc')));
    expect(hashString('abc')).not.toBe(hashString('abd'));
    expect(hexId(createPrng(5))).toMatch(/^[0-9a-f]{32}$/);
  });

  it('generates the requested number of tokens, ending with a period on a natural stop', () => {
    const stopped = generateTokenIds(createPrng(9), 12, true);
    expect(stopped).toHaveLength(12);
    expect(stopped[11]).toBe(PERIOD_ID);
    expect(generateTokenIds(createPrng(9), 0, true)).toEqual([]);
  });
});

describe('hex8', () => {
  it('is the 8-digit zero-padded lowercase hex of the next 32-bit draw', () => {
    const reference = createPrng(77);
    const table = createPrng(77);
    for (let i = 0; i < 10_000; i++) {
      expect(table.hex8()).toBe(Math.floor(reference.next() * 0x1_0000_0000).toString(16).padStart(8, '0'));
    }
  });
});
