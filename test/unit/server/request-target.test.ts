import { describe, expect, it } from 'vitest';
import { requestTargetProblem } from '../../../src/server/request-target.js';

describe('requestTargetProblem', () => {
  it.each([
    '/v1/chat/completions',
    '/v1/files/file-abc123',
    '/tokenize',
    '/',
    '/v1/files/',
    '/v1/x.y/z',
    '/v1/models/meta-llama%3ALlama-3',
    '/v1/files?purpose=batch&after=../../x',
    '/v1/files?next=%2e%2e%2fsim%2ftruth#frag',
    '/v1/files?a=//b',
  ])('accepts %s', (target) => {
    expect(requestTargetProblem(target)).toBeUndefined();
  });

  it.each([
    ['dot-dot segment', '/v1/../sim/truth'],
    ['dot segment', '/v1/./chat/completions'],
    ['trailing dot-dot', '/v1/files/..'],
    ['encoded dots, lower case', '/v1/%2e%2e/metrics'],
    ['encoded dots, mixed case', '/v1/%2E%2e/%2e%2E/sim/truth'],
    ['one encoded dot next to a raw one', '/v1/.%2e/metrics'],
    ['encoded dot inside a name', '/v1/fi%2Eles'],
    ['encoded slash', '/v1/files%2f..%2fsim'],
    ['encoded slash, upper case', '/v1%2F..%2Fsim/truth'],
    ['encoded backslash', '/v1/..%5csim/truth'],
    ['double-encoded dot', '/v1/%252e%252e/metrics'],
    ['double-encoded slash', '/v1/files%252fx'],
    ['malformed escape', '/v1/files%zz'],
    ['truncated escape', '/v1/files%2'],
    ['raw backslash', '/v1\\..\\sim\\truth'],
    ['empty segment', '/v1//chat/completions'],
    ['leading double slash', '//evil/v1/x'],
    ['fragment in the path', '/v1/files#/../../sim/truth'],
    ['absolute form', 'http://evil/v1/x'],
    ['absolute form to the gateway itself', 'http://127.0.0.1:8080/v1/chat/completions'],
    ['asterisk form', '*'],
    ['authority form', 'evil:443'],
    ['empty target', ''],
  ])('refuses %s', (_name, target) => {
    expect(requestTargetProblem(target)).toEqual(expect.any(String));
  });
});
