import { describe, expect, it } from 'vitest';
import { extractPresentedKey } from '../../../src/auth/extract.js';

const KEY = 'sk-tb-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

describe('extractPresentedKey', () => {
  it('reads Authorization: Bearer with any case of the scheme', () => {
    expect(extractPresentedKey({ authorization: `Bearer ${KEY}` })).toBe(KEY);
    expect(extractPresentedKey({ authorization: `bearer ${KEY}` })).toBe(KEY);
    expect(extractPresentedKey({ authorization: `BEARER  ${KEY} ` })).toBe(KEY);
  });

  it('reads x-api-key and api-key', () => {
    expect(extractPresentedKey({ 'x-api-key': KEY })).toBe(KEY);
    expect(extractPresentedKey({ 'api-key': ` ${KEY} ` })).toBe(KEY);
  });

  it('prefers Authorization, then x-api-key, then api-key', () => {
    expect(extractPresentedKey({ authorization: `Bearer ${KEY}`, 'x-api-key': 'other', 'api-key': 'third' })).toBe(KEY);
    expect(extractPresentedKey({ 'x-api-key': KEY, 'api-key': 'third' })).toBe(KEY);
  });

  it('returns undefined when no header carries a key', () => {
    expect(extractPresentedKey({})).toBeUndefined();
    expect(extractPresentedKey({ 'content-type': 'application/json' })).toBeUndefined();
  });

  it.each([
    ['another scheme', { authorization: `Basic ${KEY}` }],
    ['a scheme without a key', { authorization: 'Bearer' }],
    ['a scheme and blanks', { authorization: 'Bearer   ' }],
    ['no scheme', { authorization: KEY }],
    ['two tokens', { authorization: `Bearer ${KEY} extra` }],
    ['a control character', { authorization: `Bearer ${KEY}\u0001` }],
    ['non-ASCII', { 'x-api-key': `${KEY}é` }],
    ['an empty x-api-key', { 'x-api-key': '' }],
    ['a repeated header', { 'x-api-key': [KEY, KEY] }],
    ['an absurd length', { 'api-key': 'k'.repeat(513) }],
  ])('treats %s as no key', (_name, headers) => {
    expect(extractPresentedKey(headers)).toBeUndefined();
  });

  it('does not fall back to x-api-key when Authorization is malformed', () => {
    expect(extractPresentedKey({ authorization: 'Basic abc', 'x-api-key': KEY })).toBeUndefined();
  });
});
