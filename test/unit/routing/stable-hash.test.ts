import { describe, expect, it } from 'vitest';
import { StableHasher, fmix32, stableHash32 } from '../../../src/routing/stable-hash.js';
import { chiSquare, seededRandom } from './routing-test-helpers.js';

/** A plain murmur3-32 over bytes, written from the reference: the oracle for the UTF-16 → UTF-8 fast path. */
function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const blocks = bytes.length >> 2;
  for (let b = 0; b < blocks; b++) {
    const o = b * 4;
    let k = bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | bytes[tail + i]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= bytes.length;
  return fmix32(h);
}

function randomText(random: () => number, length: number): string {
  const pools = [
    () => 0x20 + Math.floor(random() * 0x5f), // ASCII
    () => 0x80 + Math.floor(random() * 0x780), // 2-byte UTF-8
    () => 0x800 + Math.floor(random() * 0xd000), // 3-byte UTF-8, may hit lone surrogates
    () => 0xd800 + Math.floor(random() * 0x800), // lone surrogates (either half)
  ];
  let text = '';
  for (let i = 0; i < length; i++) {
    const pick = random();
    if (pick < 0.15) text += String.fromCodePoint(0x10000 + Math.floor(random() * 0xfffff)); // 4-byte, a surrogate pair
    else text += String.fromCharCode(pools[Math.floor(random() * pools.length)]!());
  }
  return text;
}

describe('stableHash32 (murmur3-32 over UTF-8)', () => {
  it('gives the published murmur3 x86_32 vectors', () => {
    const vectors: Array<[string, number, number]> = [
      ['', 0, 0],
      ['', 1, 0x514e28b7],
      ['', 0xffffffff, 0x81f16f39],
      ['\0\0\0\0', 0, 0x2362f9de],
      ['abc', 0, 0xb3dd93fa],
      ['a', 0x9747b28c, 0x7fa09ea6],
      ['ab', 0x9747b28c, 0x74875592],
      ['abc', 0x9747b28c, 0xc84a62dd],
      ['abcd', 0x9747b28c, 0xf0478627],
      ['aaaa', 0x9747b28c, 0x5a97808a],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
      ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ];
    for (const [text, seed, expected] of vectors) expect(stableHash32(text, seed), JSON.stringify(text)).toBe(expected);
  });

  it('pins the values the ring and session keys are built from (changing them moves every session)', () => {
    expect([stableHash32('replica-a#0'), stableHash32('replica-b#99'), stableHash32('conversation-42'), stableHash32('😀 émoji')]).toEqual([
      0x362727f3, 0x529eb8c9, 0x34c5f4d0, 0x7e64b0d0,
    ]);
  });

  it('equals murmur3 of Buffer.from(text, "utf8") for every kind of character, lone surrogates included', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 2000; i++) {
      const text = randomText(random, Math.floor(random() * 40));
      const seed = Math.floor(random() * 0x1_0000_0000);
      expect(stableHash32(text, seed)).toBe(murmur3Bytes(Buffer.from(text, 'utf8'), seed));
    }
    for (const text of ['\ud83d', 'a\ud83d', '\ude00b', '\ud83d\ud83d\ude00', 'x\udbff']) {
      expect(stableHash32(text)).toBe(murmur3Bytes(Buffer.from(text, 'utf8'), 0));
    }
  });

  it('hashes incremental updates as their concatenation, even a surrogate pair cut in two', () => {
    const random = seededRandom(11);
    const hasher = new StableHasher();
    for (let i = 0; i < 500; i++) {
      const text = randomText(random, 1 + Math.floor(random() * 30));
      const cut = Math.floor(random() * (text.length + 1));
      const incremental = hasher.reset(3).update(text.slice(0, cut)).update(text.slice(cut)).digest();
      expect(incremental).toBe(stableHash32(text, 3));
      const ranged = hasher.reset().update(text, 1, cut).digest();
      expect(ranged).toBe(stableHash32(text.slice(1, Math.max(1, cut))));
    }
    expect(hasher.reset().update('a\ud83d').update('\ude00').digest()).toBe(stableHash32('a😀'));
  });

  it('spreads similar keys evenly: chi-square over 64 and 256 buckets, low and high bits', () => {
    const keys = 100_000;
    const low64 = new Uint32Array(64);
    const high256 = new Uint32Array(256);
    const mod7 = new Uint32Array(7);
    for (let i = 0; i < keys; i++) {
      const hash = stableHash32(`session-${i}`);
      low64[hash & 63]!++;
      high256[hash >>> 24]!++;
      mod7[hash % 7]!++;
    }
    // 99.9th percentiles of chi-square: 63 degrees of freedom 103.4, 255: 330.5, 6: 22.5.
    expect(chiSquare(low64)).toBeLessThan(103.4);
    expect(chiSquare(high256)).toBeLessThan(330.5);
    expect(chiSquare(mod7)).toBeLessThan(22.5);
  });

  it('avalanches: one changed character flips about half of the output bits', () => {
    let flipped = 0;
    const trials = 2000;
    for (let i = 0; i < trials; i++) {
      const diff = (stableHash32(`key-${i}-a`) ^ stableHash32(`key-${i}-b`)) >>> 0;
      flipped += popcount(diff);
    }
    const mean = flipped / trials;
    expect(mean).toBeGreaterThan(15.5);
    expect(mean).toBeLessThan(16.5);
  });
});

function popcount(value: number): number {
  let v = value >>> 0;
  let count = 0;
  while (v !== 0) {
    v &= v - 1;
    count++;
  }
  return count;
}
