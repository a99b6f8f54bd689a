import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issueKey, KeyPolicyError, keysFileAdmin, patchedKey, viewOf } from '../../../src/auth/key-admin.js';
import { hashApiKey } from '../../../src/auth/key-format.js';
import { storedKeySchema } from '../../../src/auth/policy.js';

const current = storedKeySchema.parse({
  id: 'team-a',
  tenant: 'acme',
  models: ['m1'],
  limits: { requestsPerMinute: 60, tokensPerMinute: 1000 },
  budget: { daily: 5, monthly: 100 },
  hash: 'a'.repeat(64),
});

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build();
  } catch (error) {
    if (error instanceof KeyPolicyError) return error.problems;
    throw error;
  }
  throw new Error('expected a KeyPolicyError');
}

describe('issueKey', () => {
  it('stores only the hash of a new secret, with the policy defaults filled in', () => {
    const { secret, stored } = issueKey({ id: 'team-b' });
    expect(secret).toMatch(/^sk-tb-/);
    expect(stored).toEqual({ id: 'team-b', tenant: 'default', models: ['*'], limits: {}, hash: hashApiKey(secret) });
  });

  it('names every problem of a bad policy, and refuses a hash given by the caller', () => {
    expect(problemsOf(() => issueKey({ id: 'a b', limits: { maxConcurrent: 0 }, extra: 1 }))).toEqual([
      expect.stringMatching(/^id: /),
      expect.stringMatching(/^limits\.maxConcurrent: /),
      expect.stringMatching(/^\(entry\): .*extra/),
    ]);
    // The issued hash replaces any in the body: a caller cannot register a secret it chose.
    expect(issueKey({ id: 'c', hash: 'b'.repeat(64) }).stored.hash).not.toBe('b'.repeat(64));
    expect(problemsOf(() => issueKey([]))).toHaveLength(1);
  });
});

describe('patchedKey (JSON Merge Patch of a policy)', () => {
  it('merges objects, replaces members and removes them with null, keeping the id and the hash', () => {
    const next = patchedKey(current, { limits: { requestsPerMinute: 120, tokensPerMinute: null }, budget: null, models: ['m2', 'm3'] });
    expect(next).toEqual({ id: 'team-a', tenant: 'acme', models: ['m2', 'm3'], limits: { requestsPerMinute: 120 }, hash: current.hash });
    expect(patchedKey(current, {})).toEqual(current);
    expect(patchedKey(current, { id: 'team-a', budget: { daily: 7 } }).budget).toEqual({ daily: 7, monthly: 100 });
  });

  it('refuses a new id, a hash, a non-object patch and a result the schema refuses', () => {
    expect(problemsOf(() => patchedKey(current, { id: 'team-b' }))[0]).toMatch(/^id: /);
    expect(problemsOf(() => patchedKey(current, { hash: 'b'.repeat(64) }))[0]).toMatch(/hash/);
    expect(problemsOf(() => patchedKey(current, [1]))).toHaveLength(1);
    expect(problemsOf(() => patchedKey(current, 'x'))).toHaveLength(1);
    expect(problemsOf(() => patchedKey(current, { models: [], limits: { burstTokens: 1.5 } }))).toEqual([
      expect.stringMatching(/^models: /),
      expect.stringMatching(/^limits\.burstTokens: /),
    ]);
    // Removing a defaulted member brings the default back rather than an invalid key.
    expect(patchedKey(current, { tenant: null }).tenant).toBe('default');
  });
});

describe('keysFileAdmin', () => {
  it('replaces one entry in place, keeping the file comments and the other entries', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-key-admin-')), 'keys.yaml');
    writeFileSync(file, '# our keys\n');
    const store = keysFileAdmin(file);
    const first = issueKey({ id: 'first' }).stored;
    const second = issueKey({ id: 'second', tenant: 'acme' }).stored;
    await store.create(first);
    await store.create(second);
    await expect(store.create(issueKey({ id: 'first' }).stored)).rejects.toThrow(/already exists/);
    expect(await store.replace(patchedKey(first, { limits: { maxConcurrent: 2 } }))).toBe(true);
    expect(await store.replace(issueKey({ id: 'nobody' }).stored)).toBe(false);
    expect((await store.list()).map(viewOf)).toEqual([
      { id: 'first', tenant: 'default', models: ['*'], limits: { maxConcurrent: 2 } },
      { id: 'second', tenant: 'acme', models: ['*'], limits: {} },
    ]);
    expect((await store.list())[0]?.hash).toBe(first.hash);
    expect(readFileSync(file, 'utf8')).toMatch(/^# our keys\n/);
    expect(await store.revoke('first')).toBe(true);
    expect(await store.revoke('first')).toBe(false);
    expect((await store.list()).map((key) => key.id)).toEqual(['second']);
  });
});
