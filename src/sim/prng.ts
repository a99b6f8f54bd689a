/** Small, fast, dependency-free hashing and a seedable PRNG: enough for a simulator, not crypto. */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over a string's UTF-16 code units, continuing from `seed`. */
export function hashString(text: string, seed: number = FNV_OFFSET): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** FNV-1a over raw bytes, continuing from `seed`. */
export function hashBytes(bytes: Uint8Array, seed: number = FNV_OFFSET): number {
  let hash = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i] as number;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** Mixes one 32-bit integer into a running hash (murmur3 finaliser style avalanche). */
export function mixInt(hash: number, value: number): number {
  let h = (hash ^ (value >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Folds any JS number (including negatives and > 32 bits) into a 32-bit hash input. */
export function mixNumber(hash: number, value: number): number {
  const low = value % 0x1_0000_0000;
  const high = Math.floor(value / 0x1_0000_0000);
  return mixInt(mixInt(hash, low >>> 0), high >>> 0);
}

export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] inclusive. */
  int(min: number, max: number): number;
  /** 32 random bits as 8 lowercase hex digits. */
  hex8(): string;
}

/** Two lowercase hex digits per byte value, so hex8 is four lookups instead of toString + padStart. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

function hex32(value: number): string {
  return (
    (HEX_BYTE[value >>> 24] as string) +
    (HEX_BYTE[(value >>> 16) & 0xff] as string) +
    (HEX_BYTE[(value >>> 8) & 0xff] as string) +
    (HEX_BYTE[value & 0xff] as string)
  );
}

/** sfc32: fast, good statistical quality, 128-bit state seeded from one 32-bit value. */
export function createPrng(seed: number): Prng {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Discard the first outputs: sfc32 needs a few rounds to diffuse a low-entropy seed.
  for (let i = 0; i < 12; i++) nextUint32();
  return {
    next: () => nextUint32() / 0x1_0000_0000,
    int: (min, max) => min + Math.floor((nextUint32() / 0x1_0000_0000) * (max - min + 1)),
    hex8: () => hex32(nextUint32()),
  };
}

/** A 32-hex-digit id (the shape of vLLM's random_uuid().hex) drawn from `prng`. */
export function hexId(prng: Prng): string {
  return prng.hex8() + prng.hex8() + prng.hex8() + prng.hex8();
}
