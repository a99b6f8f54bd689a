import { describe, expect, it } from 'vitest';
import { authConfigSchema } from '../../../src/auth/config.js';
import { hashApiKey } from '../../../src/auth/key-format.js';
import { validateKeyList } from '../../../src/auth/key-list.js';
import { tenantLabeler } from '../../../src/auth/tenant-label.js';

const HASH = hashApiKey('sk-tb-example');

describe('authConfigSchema', () => {
  it('defaults to enabled, no keys, the config store', () => {
    expect(authConfigSchema.parse(undefined)).toEqual({ enabled: true, keys: [], store: 'config', resyncIntervalMs: 30_000, tenants: [] });
  });

  it('fills each key policy from the shared schema', () => {
    const auth = authConfigSchema.parse({ keys: [{ id: 'team-a', hash: `sha256:${HASH}` }], tenants: ['acme'] });
    expect(auth.keys).toEqual([{ id: 'team-a', tenant: 'default', models: ['*'], limits: {}, hash: HASH }]);
  });

  it('reports every problem, duplicate ids and hashes included', () => {
    const result = authConfigSchema.safeParse({
      keys: [
        { id: 'a', hash: HASH },
        { id: 'a', hash: hashApiKey('other') },
        { id: 'b', hash: HASH },
        { id: 'bad id', hash: 'plain' },
      ],
      store: 'memory',
      tenants: ['ok', 'not ok'],
    });
    expect(result.success).toBe(false);
    const problems = result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? [];
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^keys\.3\.id: /),
        expect.stringMatching(/^keys\.3\.hash: /),
        expect.stringMatching(/^store: /),
        expect.stringMatching(/^tenants\.1: /),
      ]),
    );
  });

  it('rejects duplicates when every key is otherwise valid', () => {
    const result = authConfigSchema.safeParse({ keys: [{ id: 'a', hash: HASH }, { id: 'a', hash: hashApiKey('x') }, { id: 'b', hash: HASH }] });
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      '(a) id: the id "a" is used by more than one key',
      '(b) hash: the same key is also stored as "a"',
    ]);
  });
});

describe('validateKeyList', () => {
  it('labels each problem with the entry position and id', () => {
    const { keys, problems } = validateKeyList([{ id: 'good', hash: HASH }, { id: 'team-b', hash: HASH.slice(1), limits: { rpm: 5 } }, 'text']);
    expect(keys.map((key) => key.id)).toEqual(['good']);
    expect(problems).toEqual([
      expect.stringMatching(/^\[1\] \(team-b\) limits: /),
      expect.stringMatching(/^\[1\] \(team-b\) hash: /),
      expect.stringMatching(/^\[2\] \(entry\): /),
    ]);
  });

  it('wants a list', () => {
    expect(validateKeyList({ id: 'x' }).problems).toEqual(['expected a list of keys']);
    expect(validateKeyList(null)).toEqual({ keys: [], problems: [] });
  });
});

describe('tenantLabeler', () => {
  it('keeps declared tenants and collapses the rest into one value', () => {
    const label = tenantLabeler(['acme', 'globex']);
    expect(label('acme')).toBe('acme');
    expect(label('initech')).toBe('other');
    expect(label('default')).toBe('other');
  });
});
