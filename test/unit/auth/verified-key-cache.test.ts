import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { storedKeySchema, type StoredKey } from '../../../src/auth/policy.js';
import { VerifiedKeyCache } from '../../../src/auth/verified-key-cache.js';

function storedKey(id: string, key: string): StoredKey {
  return storedKeySchema.parse({ id, tenant: 'acme', models: ['*'], hash: hashApiKey(key) });
}

/** A ring whose digests are counted: a remembered key is answered without one. */
function countingRing(): { ring: KeyRing; digestsFor: (presented: string | undefined) => number } {
  let digests = 0;
  const ring = new KeyRing({ digest: (key) => ((digests += 1), createHash('sha256').update(key).digest()) });
  return {
    ring,
    digestsFor: (presented) => {
      digests = 0;
      ring.verify(presented);
      return digests;
    },
  };
}

describe('KeyRing: remembered verified keys', () => {
  it('hashes a right key once, then answers it from memory with the same principal', () => {
    const { ring, digestsFor } = countingRing();
    const right = generateApiKey();
    ring.replaceSource('config', [storedKey('team-a', right)]);
    const first = ring.verify(right);
    expect(first?.keyId).toBe('team-a');
    expect(digestsFor(right)).toBe(0);
    expect(ring.verify(right)).toBe(first);
  });

  it('never remembers a wrong or missing key: each one is hashed every time', () => {
    const { ring, digestsFor } = countingRing();
    const right = generateApiKey();
    const wrong = generateApiKey();
    ring.replaceSource('config', [storedKey('team-a', right)]);
    ring.verify(right);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(digestsFor(wrong)).toBe(1);
      expect(digestsFor(undefined)).toBe(1);
      expect(digestsFor(`${right}x`)).toBe(1);
      expect(ring.verify(wrong)).toBeUndefined();
    }
  });

  it('refuses a key revoked by a reload although it was remembered', () => {
    const right = generateApiKey();
    const ring = new KeyRing();
    ring.replaceSource('file', [storedKey('team-a', right)]);
    expect(ring.verify(right)?.keyId).toBe('team-a');
    ring.replaceSource('file', []);
    expect(ring.verify(right)).toBeUndefined();
  });

  it('answers with the new policy after a reload changed the key', () => {
    const right = generateApiKey();
    const ring = new KeyRing();
    ring.replaceSource('redis', [storedKey('team-a', right)]);
    expect(ring.verify(right)?.keyId).toBe('team-a');
    ring.replaceSource('redis', [storedKey('team-a-renamed', right)]);
    expect(ring.verify(right)?.keyId).toBe('team-a-renamed');
  });

  it('still answers every key when more keys are active than it remembers', () => {
    const keys = Array.from({ length: 1_500 }, () => generateApiKey());
    const ring = new KeyRing();
    ring.replaceSource('config', keys.map((key, index) => storedKey(`key-${index}`, key)));
    for (const [index, key] of keys.entries()) expect(ring.verify(key)?.keyId).toBe(`key-${index}`);
    for (const [index, key] of keys.entries()) expect(ring.verify(key)?.keyId).toBe(`key-${index}`);
  });
});

describe('VerifiedKeyCache', () => {
  it('holds at most its capacity, dropping the key stored first', () => {
    const cache = new VerifiedKeyCache<number>(2);
    cache.remember('a', 1);
    cache.remember('b', 2);
    cache.remember('c', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    expect([cache.get('b'), cache.get('c')]).toEqual([2, 3]);
    cache.clear();
    expect(cache.get('b')).toBeUndefined();
  });
});
