import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, isIssuedKeyFormat } from '../../../src/auth/key-format.js';

describe('API key format', () => {
  it('issues sk-tb- followed by 43 base64url characters of 32 random bytes', () => {
    const keys = Array.from({ length: 200 }, generateApiKey);
    for (const key of keys) {
      expect(key).toMatch(/^sk-tb-[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice('sk-tb-'.length), 'base64url')).toHaveLength(32);
      expect(isIssuedKeyFormat(key)).toBe(true);
    }
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('stores the lower-case hex SHA-256 of the whole key', () => {
    const key = 'sk-tb-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tells issued keys from other strings', () => {
    expect(isIssuedKeyFormat('sk-tb-short')).toBe(false);
    expect(isIssuedKeyFormat(`sk-xx-${'A'.repeat(43)}`)).toBe(false);
    expect(isIssuedKeyFormat(`sk-tb-${'A'.repeat(42)}+`)).toBe(false);
  });
});
