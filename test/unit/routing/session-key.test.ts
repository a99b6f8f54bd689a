import { describe, expect, it } from 'vitest';
import { DEFAULT_SESSION_KEY_SETTINGS, sessionIdHash, sessionKeyOf, type SessionKeySettings } from '../../../src/routing/session-key.js';
import { StableHasher, stableHash32 } from '../../../src/routing/stable-hash.js';

const SETTINGS = DEFAULT_SESSION_KEY_SETTINGS;
const SYSTEM = 'You are the support assistant of Example Corp. '.repeat(40); // ~1,900 characters

function chat(system: string, user: string, extra: Record<string, unknown> = {}) {
  return { model: 'llama', messages: [{ role: 'system', content: system }, { role: 'user', content: user }], ...extra };
}

describe('sessionKeyOf: sources and their order', () => {
  it('has the documented defaults', () => {
    expect(SETTINGS).toEqual({ header: 'x-session-id', bodyFields: ['prompt_cache_key', 'user'], prefixCharacters: 1024 });
    expect(Object.isFrozen(SETTINGS)).toBe(true);
  });

  it('takes the header first, then prompt_cache_key, then user, then the prefix', () => {
    const body = chat(SYSTEM, 'hi', { prompt_cache_key: 'pck-1', user: 'user-1' });
    expect(sessionKeyOf({ 'x-session-id': 'conv-1' }, body, 'tenant', SETTINGS)).toEqual({
      hash: sessionIdHash('tenant', 'conv-1'),
      source: 'header',
      conversationId: 'conv-1',
    });
    expect(sessionKeyOf({}, body, 'tenant', SETTINGS)).toMatchObject({ source: 'prompt_cache_key', conversationId: 'pck-1' });
    expect(sessionKeyOf({}, { ...body, prompt_cache_key: undefined }, 'tenant', SETTINGS)).toMatchObject({ source: 'user', conversationId: 'user-1' });
    expect(sessionKeyOf({}, chat(SYSTEM, 'hi'), 'tenant', SETTINGS)).toMatchObject({ source: 'prefix', conversationId: undefined });
  });

  it('follows the configured body-field order, header name, and switches', () => {
    const body = chat(SYSTEM, 'hi', { prompt_cache_key: 'pck-1', user: 'user-1' });
    const userFirst: SessionKeySettings = { ...SETTINGS, bodyFields: ['user', 'prompt_cache_key'] };
    expect(sessionKeyOf({}, body, undefined, userFirst)?.source).toBe('user');
    const custom: SessionKeySettings = { ...SETTINGS, header: 'x-conversation' };
    expect(sessionKeyOf({ 'x-conversation': 'c', 'x-session-id': 's' }, body, undefined, custom)?.conversationId).toBe('c');
    const noHeader: SessionKeySettings = { ...SETTINGS, header: null };
    expect(sessionKeyOf({ 'x-session-id': 's' }, body, undefined, noHeader)?.source).toBe('prompt_cache_key');
    const noPrefix: SessionKeySettings = { ...SETTINGS, prefixCharacters: 0 };
    expect(sessionKeyOf({}, chat(SYSTEM, 'hi'), undefined, noPrefix)).toBeUndefined();
    const nothing: SessionKeySettings = { header: null, bodyFields: [], prefixCharacters: 0 };
    expect(sessionKeyOf({ 'x-session-id': 's' }, body, undefined, nothing)).toBeUndefined();
  });

  it('skips empty and whitespace-only values, non-string body values, and uses the first of repeated headers', () => {
    const body = { prompt_cache_key: '  \t', user: 42, messages: [{ role: 'user', content: 'hello there' }] };
    expect(sessionKeyOf({ 'x-session-id': '' }, body, undefined, SETTINGS)?.source).toBe('prefix');
    expect(sessionKeyOf({ 'x-session-id': ' \u00a0\u3000' }, body, undefined, SETTINGS)?.source).toBe('prefix');
    expect(sessionKeyOf({ 'x-session-id': ['first', 'second'] }, body, undefined, SETTINGS)).toMatchObject({ source: 'header', conversationId: 'first' });
    expect(sessionKeyOf({ 'x-session-id': [] }, body, undefined, SETTINGS)?.source).toBe('prefix');
    expect(sessionKeyOf({}, { user: { id: 'x' }, prompt_cache_key: ['a'] }, undefined, SETTINGS)).toBeUndefined();
    expect(sessionKeyOf({}, { user: 'u' }, undefined, SETTINGS)).toMatchObject({ source: 'user', conversationId: 'u' });
  });

  it('reads the header without a body, and nothing from bodies that are not objects', () => {
    expect(sessionKeyOf({ 'x-session-id': 'c' }, undefined, undefined, SETTINGS)?.source).toBe('header');
    for (const body of [undefined, null, 'text', 42, ['messages']]) expect(sessionKeyOf({}, body, undefined, SETTINGS)).toBeUndefined();
  });

  it('scopes explicit ids by the principal: the same id from two tenants is two sessions', () => {
    const a = sessionKeyOf({ 'x-session-id': 'default' }, {}, 'tenant-a', SETTINGS)!;
    const b = sessionKeyOf({ 'x-session-id': 'default' }, {}, 'tenant-b', SETTINGS)!;
    expect(a.hash).not.toBe(b.hash);
    expect(sessionKeyOf({}, { user: 'default' }, 'tenant-a', SETTINGS)!.hash).toBe(a.hash);
    // The hash is murmur3 of principal, NUL, value: stable across processes and versions.
    expect(a.hash).toBe(stableHash32('tenant-a\u0000default'));
    expect(sessionIdHash(undefined, 'x')).toBe(sessionIdHash('', 'x'));
  });
});

describe('sessionKeyOf: prefix keys', () => {
  const prefixOf = (body: unknown, principal?: string, settings: SessionKeySettings = SETTINGS) => {
    const key = sessionKeyOf({}, body, principal, settings);
    expect(key?.source).toBe('prefix');
    return key!.hash;
  };

  it('hashes the principal and the first 1,024 characters of the system prompt', () => {
    expect(prefixOf(chat(SYSTEM, 'hi'), 'tenant')).toBe(stableHash32(`tenant\u0000${SYSTEM.slice(0, 1024)}`));
    expect(prefixOf(chat(SYSTEM, 'hi'))).toBe(stableHash32(`\u0000${SYSTEM.slice(0, 1024)}`));
  });

  it('meets the same key for requests that share the prefix, whatever follows it', () => {
    const base = prefixOf(chat(SYSTEM, 'What is my balance?'), 'tenant');
    expect(prefixOf(chat(SYSTEM, 'Close my account.'), 'tenant')).toBe(base);
    expect(prefixOf(chat(`${SYSTEM}A longer tail after the first 1,024 characters.`, 'x'), 'tenant')).toBe(base);
    // The developer role counts as a system prompt too, and it need not come first.
    const developer = { messages: [{ role: 'user', content: 'first' }, { role: 'developer', content: SYSTEM }] };
    expect(prefixOf(developer, 'tenant')).toBe(base);
    // Text parts are hashed as their concatenation; non-text parts are skipped.
    const half = 500;
    const parts = {
      messages: [
        { role: 'system', content: [{ type: 'text', text: SYSTEM.slice(0, half) }, { type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: SYSTEM.slice(half) }] },
      ],
    };
    expect(prefixOf(parts, 'tenant')).toBe(base);
  });

  it('differs for a different principal or a different prefix', () => {
    const base = prefixOf(chat(SYSTEM, 'hi'), 'tenant-a');
    expect(prefixOf(chat(SYSTEM, 'hi'), 'tenant-b')).not.toBe(base);
    expect(prefixOf(chat(SYSTEM, 'hi'))).not.toBe(base);
    expect(prefixOf(chat(`${SYSTEM.slice(0, 1023)}!`, 'hi'), 'tenant-a')).not.toBe(base);
    // A change past the prefix does not count.
    expect(prefixOf(chat(`${SYSTEM.slice(0, 1024)}!`, 'hi'), 'tenant-a')).toBe(base);
    expect(prefixOf(chat(SYSTEM, 'hi'), 'tenant-a', { ...SETTINGS, prefixCharacters: 10 })).not.toBe(base);
  });

  it('falls back to the first message when there is no system prompt (or it has no text)', () => {
    const plain = { messages: [{ role: 'user', content: 'Translate this document into French please' }, { role: 'assistant', content: 'ok' }] };
    expect(prefixOf(plain)).toBe(stableHash32('\u0000Translate this document into French please'));
    const emptySystem = { messages: [{ role: 'system', content: '   ' }, { role: 'user', content: 'question' }] };
    expect(prefixOf(emptySystem)).toBe(stableHash32('\u0000question'));
    const userParts = { messages: [{ role: 'user', content: [{ type: 'text', text: 'look at ' }, { type: 'image_url' }, { type: 'text', text: 'this' }] }] };
    expect(prefixOf(userParts)).toBe(stableHash32('\u0000look at this'));
  });

  it('reads completions prompts: a string, or the first string of an array; never token ids', () => {
    expect(prefixOf({ prompt: 'Once upon a time' })).toBe(stableHash32('\u0000Once upon a time'));
    expect(prefixOf({ prompt: ['Once upon a time', 'other'] })).toBe(stableHash32('\u0000Once upon a time'));
    expect(sessionKeyOf({}, { prompt: [1, 2, 3] }, undefined, SETTINGS)).toBeUndefined();
    expect(sessionKeyOf({}, { prompt: [[1, 2, 3]] }, undefined, SETTINGS)).toBeUndefined();
    expect(sessionKeyOf({}, { prompt: '' }, undefined, SETTINGS)).toBeUndefined();
  });

  it('reads Responses requests: instructions, else input as a string or its first message', () => {
    expect(prefixOf({ input: 'Summarise the attached report' })).toBe(stableHash32('\u0000Summarise the attached report'));
    expect(prefixOf({ instructions: 'Be terse.', input: 'hello' })).toBe(stableHash32('\u0000Be terse.'));
    const items = { input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Explain ' }, { type: 'input_text', text: 'KV caches' }] }] };
    expect(prefixOf(items)).toBe(stableHash32('\u0000Explain KV caches'));
    const withDeveloper = { input: [{ role: 'user', content: 'q' }, { role: 'developer', content: 'Rules.' }] };
    expect(prefixOf(withDeveloper)).toBe(stableHash32('\u0000Rules.'));
  });

  it('has no prefix key for prompts without visible text', () => {
    for (const body of [{ messages: [] }, { messages: [{ role: 'user', content: ' \n ' }] }, { messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, { input: [] }, { messages: 'nonsense' }]) {
      expect(sessionKeyOf({}, body, 'p', SETTINGS)).toBeUndefined();
    }
  });

  it('never cuts a surrogate pair: the prefix stops before it', () => {
    const emoji = `${'a'.repeat(1023)}😀 tail`;
    expect(prefixOf({ prompt: emoji })).toBe(stableHash32(`\u0000${'a'.repeat(1023)}`));
  });

  it('keeps only the hash, never the prompt text', () => {
    const secret = 'CONFIDENTIAL-PROMPT-TEXT';
    const key = sessionKeyOf({}, chat(`${secret} ${SYSTEM}`, 'hi'), 'tenant', SETTINGS)!;
    expect(Object.keys(key).sort()).toEqual(['conversationId', 'hash', 'source']);
    expect(key.conversationId).toBeUndefined();
    expect(Number.isInteger(key.hash) && key.hash >= 0 && key.hash <= 0xffffffff).toBe(true);
    expect(JSON.stringify(key)).not.toContain('CONFIDENTIAL');
  });

  it('matches a fresh hasher: the shared one carries nothing between calls', () => {
    const first = sessionKeyOf({}, chat(SYSTEM, 'hi'), 't', SETTINGS)!.hash;
    sessionKeyOf({ 'x-session-id': 'something else' }, {}, 'u', SETTINGS);
    sessionKeyOf({}, { prompt: 'zzz' }, 'v', SETTINGS);
    expect(sessionKeyOf({}, chat(SYSTEM, 'hi'), 't', SETTINGS)!.hash).toBe(first);
    expect(first).toBe(new StableHasher().update('t').update('\u0000').update(SYSTEM, 0, 1024).digest());
  });
});
