import { createHash, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { storedKeySchema, type StoredKey } from '../../../src/auth/policy.js';

function storedKey(id: string, key: string, extra: Record<string, unknown> = {}): StoredKey {
  return storedKeySchema.parse({ id, tenant: 'acme', models: ['llama-3-8b'], limits: { requestsPerMinute: 60 }, ...extra, hash: hashApiKey(key) });
}

describe('KeyRing.verify', () => {
  const right = generateApiKey();
  const other = generateApiKey();

  it('returns the principal of a right key, with its policy and without its hash', () => {
    const ring = new KeyRing();
    ring.replaceSource('config', [storedKey('team-a', right, { budget: { daily: 5 } })]);
    const principal = ring.verify(right);
    expect(principal).toEqual({
      keyId: 'team-a',
      tenant: 'acme',
      policy: { id: 'team-a', tenant: 'acme', models: ['llama-3-8b'], limits: { requestsPerMinute: 60 }, budget: { daily: 5 } },
    });
    expect(JSON.stringify(principal)).not.toContain(hashApiKey(right));
    expect(Object.isFrozen(principal?.policy.limits)).toBe(true);
  });

  it('rejects wrong, missing and near-miss keys', () => {
    const ring = new KeyRing();
    ring.replaceSource('config', [storedKey('team-a', right)]);
    expect(ring.verify(other)).toBeUndefined();
    expect(ring.verify(undefined)).toBeUndefined();
    expect(ring.verify('')).toBeUndefined();
    expect(ring.verify(right.slice(0, -1))).toBeUndefined();
    expect(ring.verify(hashApiKey(right))).toBeUndefined();
  });

  it('rejects a key once its source no longer holds it (revoked)', () => {
    const ring = new KeyRing();
    ring.replaceSource('redis', [storedKey('team-a', right), storedKey('team-b', other)]);
    expect(ring.verify(right)?.keyId).toBe('team-a');
    ring.replaceSource('redis', [storedKey('team-b', other)]);
    expect(ring.verify(right)).toBeUndefined();
    expect(ring.verify(other)?.keyId).toBe('team-b');
  });

  it('merges sources, each replacing only its own keys; the first source wins a duplicate', () => {
    const ring = new KeyRing();
    ring.replaceSource('config', [storedKey('inline', right)]);
    ring.replaceSource('file', [storedKey('from-file', other), storedKey('duplicate', right)]);
    expect(ring.size).toBe(2);
    expect(ring.verify(right)?.keyId).toBe('inline');
    ring.replaceSource('file', []);
    expect(ring.verify(other)).toBeUndefined();
    expect(ring.verify(right)?.keyId).toBe('inline');
  });

  it('accepts a hash written as sha256:<hex>', () => {
    const ring = new KeyRing();
    ring.replaceSource('config', [storedKeySchema.parse({ id: 'prefixed', hash: `sha256:${hashApiKey(right)}` })]);
    expect(ring.verify(right)?.tenant).toBe('default');
  });
});

describe('KeyRing constant work', () => {
  it('hashes once and compares once, with equal-length digests, for right, wrong and missing keys', () => {
    const work = { digests: 0, comparisons: 0, lengths: new Set<string>() };
    const ring = new KeyRing({
      digest: (key) => {
        work.digests += 1;
        return createHash('sha256').update(key).digest();
      },
      compare: (presented, stored) => {
        work.comparisons += 1;
        work.lengths.add(`${presented.length}/${stored.length}`);
        return timingSafeEqual(presented, stored);
      },
    });
    const right = generateApiKey();
    ring.replaceSource('config', [storedKey('team-a', right)]);
    const countFor = (presented: string | undefined): { digests: number; comparisons: number } => {
      work.digests = 0;
      work.comparisons = 0;
      ring.verify(presented);
      return { digests: work.digests, comparisons: work.comparisons };
    };
    const missing = countFor(undefined);
    expect(missing).toEqual({ digests: 1, comparisons: 1 });
    expect(countFor(generateApiKey())).toEqual(missing);
    expect(countFor('x')).toEqual(missing);
    expect(countFor(right)).toEqual(missing);
    expect([...work.lengths]).toEqual(['32/32']);
  });

  it('hashes a missing key as a dummy of the issued length', () => {
    const hashed: string[] = [];
    const ring = new KeyRing({ digest: (key) => (hashed.push(key), createHash('sha256').update(key).digest()) });
    ring.verify(undefined);
    expect(hashed[0]).toMatch(/^sk-tb-[A-Za-z0-9_-]{43}$/);
  });

  /**
   * Interleaved batches of wrong-key and missing-key verifications: an implementation that returns
   * early for a missing key skips the SHA-256 and the comparison, which makes its missing batches
   * several times faster than its wrong batches. Medians of alternating batches cancel the drift of
   * a shared machine; the bounds are wide because only a gross difference is an early exit.
   */
  it('takes the same time for a wrong key as for a missing one (interleaved batches)', () => {
    const ring = new KeyRing();
    ring.replaceSource('config', Array.from({ length: 1_000 }, (_, index) => storedKey(`key-${index}`, generateApiKey())));
    const wrong = Array.from({ length: 64 }, generateApiKey);
    const batch = (presented: (index: number) => string | undefined): number => {
      const started = process.hrtime.bigint();
      for (let index = 0; index < 500; index += 1) ring.verify(presented(index));
      return Number(process.hrtime.bigint() - started);
    };
    const asWrong = (index: number): string | undefined => wrong[index % wrong.length];
    const asMissing = (): string | undefined => undefined;
    for (let warmup = 0; warmup < 20; warmup += 1) batch(asWrong), batch(asMissing);
    // Each round times one batch of each kind back to back (alternating which goes first) and keeps
    // their ratio: neighbours share the machine's momentary load, so the ratio cancels most of it.
    const ratios: number[] = [];
    for (let round = 0; round < 80; round += 1) {
      const missingFirst = round % 2 === 0;
      const first = batch(missingFirst ? asMissing : asWrong);
      const second = batch(missingFirst ? asWrong : asMissing);
      ratios.push(missingFirst ? first / second : second / first);
    }
    const ratio = median(ratios);
    if (process.env.AUTH_TIMING_DEBUG !== undefined) console.log('missing/wrong time ratio', ratio);
    // An early exit for missing keys drives the ratio to about 0.002 (measured); equal work stays near 1.
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.6);
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
