/**
 * MurmurHash3 (x86, 32-bit) over the UTF-8 bytes of strings, computed straight from the UTF-16
 * code units: no `TextEncoder`, no buffers, nothing allocated per call.
 *
 * Session routing depends on every gateway process, of every version, placing a key at the same
 * point of the ring, so this function is frozen: the same string and seed give the same value
 * everywhere, for good. Changing it (or the UTF-8 rules below) moves every session at the next
 * rolling deploy, and while old and new gateways run side by side they disagree on placement.
 * The known vectors in `test/unit/routing/stable-hash.test.ts` pin it.
 *
 * Lone surrogates are hashed as U+FFFD (EF BF BD), as `TextEncoder` and `Buffer.from(text)` encode
 * them, so the value is always the murmur3 of `Buffer.from(text, 'utf8')`.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * An incremental murmur3-32: `reset(seed)`, any number of `update(text, start, end)`, `digest()`.
 * Updates concatenate: hashing 'ab' then 'c' equals hashing 'abc'. One instance can be reused for
 * any number of hashes; nothing is allocated after construction.
 */
export class StableHasher {
  private h = 0;
  /** Bytes of the current, incomplete 4-byte block, little-endian. */
  private tail = 0;
  private tailBytes = 0;
  /** Total bytes hashed so far (murmur3 folds it in modulo 2^32). */
  private length = 0;
  /** UTF-16 high surrogate left over at the end of the previous update, or 0. */
  private pendingHigh = 0;

  reset(seed = 0): this {
    this.h = seed >>> 0;
    this.tail = 0;
    this.tailBytes = 0;
    this.length = 0;
    this.pendingHigh = 0;
    return this;
  }

  /** Hashes the UTF-8 bytes of `text.slice(start, end)` (UTF-16 indexes), without slicing. */
  update(text: string, start = 0, end: number = text.length): this {
    let h = this.h;
    let tail = this.tail;
    let tailBytes = this.tailBytes;
    let length = this.length;
    let high = this.pendingHigh;
    const stop = Math.min(end, text.length);
    for (let i = Math.max(0, start); i < stop; i++) {
      const unit = text.charCodeAt(i);
      let packed: number; // the code point's UTF-8 bytes, first byte lowest
      let count: number;
      if (high !== 0) {
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          const cp = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
          packed = (0xf0 | (cp >>> 18)) | ((0x80 | ((cp >>> 12) & 0x3f)) << 8) | ((0x80 | ((cp >>> 6) & 0x3f)) << 16) | ((0x80 | (cp & 0x3f)) << 24);
          count = 4;
          high = 0;
        } else {
          // The pending high surrogate was alone: U+FFFD, then look at this unit afresh.
          packed = 0xbdbfef;
          count = 3;
          high = 0;
          i--;
        }
      } else if (unit < 0x80) {
        packed = unit;
        count = 1;
      } else if (unit < 0x800) {
        packed = (0xc0 | (unit >>> 6)) | ((0x80 | (unit & 0x3f)) << 8);
        count = 2;
      } else if (unit >= 0xd800 && unit <= 0xdbff) {
        high = unit;
        continue;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        packed = 0xbdbfef; // lone low surrogate
        count = 3;
      } else {
        packed = (0xe0 | (unit >>> 12)) | ((0x80 | ((unit >>> 6) & 0x3f)) << 8) | ((0x80 | (unit & 0x3f)) << 16);
        count = 3;
      }
      length += count;
      for (let k = 0; k < count; k++) {
        tail |= ((packed >>> (k << 3)) & 0xff) << (tailBytes << 3);
        if (++tailBytes === 4) {
          h = mixBlock(h, tail);
          tail = 0;
          tailBytes = 0;
        }
      }
    }
    this.h = h;
    this.tail = tail;
    this.tailBytes = tailBytes;
    this.length = length;
    this.pendingHigh = high;
    return this;
  }

  /** The hash of everything updated since `reset`, as an unsigned 32-bit integer. */
  digest(): number {
    let h = this.h;
    let tail = this.tail;
    let tailBytes = this.tailBytes;
    let length = this.length;
    if (this.pendingHigh !== 0) {
      // A high surrogate at the very end is alone: U+FFFD.
      for (let k = 0; k < 3; k++) {
        tail |= ((0xbdbfef >>> (k << 3)) & 0xff) << (tailBytes << 3);
        if (++tailBytes === 4) {
          h = mixBlock(h, tail);
          tail = 0;
          tailBytes = 0;
        }
      }
      length += 3;
    }
    if (tailBytes > 0) {
      let k1 = Math.imul(tail, C1);
      k1 = (k1 << 15) | (k1 >>> 17);
      h ^= Math.imul(k1, C2);
    }
    h ^= length;
    return fmix32(h);
  }
}

/** murmur3's finaliser: full avalanche of a 32-bit integer. Exposed for deriving sub-hashes. */
/** One murmur3 round: mixes a full 4-byte block into the running hash (small enough for V8 to inline). */
function mixBlock(h: number, block: number): number {
  let k1 = Math.imul(block, C1);
  k1 = (k1 << 15) | (k1 >>> 17);
  h ^= Math.imul(k1, C2);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const shared = new StableHasher();

/** murmur3-32 of the string's UTF-8 bytes with `seed`: an unsigned 32-bit integer. */
export function stableHash32(text: string, seed = 0): number {
  return shared.reset(seed).update(text).digest();
}
