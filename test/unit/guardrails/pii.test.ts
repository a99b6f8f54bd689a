import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { guardrailsConfigSchema, guardrailsEnabled } from '../../../src/guardrails/config.js';
import { createPiiMasker, passesLuhn } from '../../../src/guardrails/pii.js';
import { PROMPT_TEXT_MAX_VALUES, walkPromptTexts } from '../../../src/guardrails/prompt-texts.js';
import { problemsOf } from '../../helpers/config-problems.js';

describe('PII masking', () => {
  const everything = createPiiMasker(['email', 'phone', 'card', 'national_id'], ['\\b\\d{3}-\\d{2}-\\d{4}\\b', '\\b[A-Z]{2}\\d{6}[A-D]\\b']);

  it('checks card numbers with Luhn', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
    expect(passesLuhn('5500005555555559')).toBe(true);
  });

  it.each([
    ['write to a.b-c+tag@mail.example.co.uk today', 'write to [EMAIL] today', 1],
    ['call +44 20 7946 0958 or (415) 555-0100 or 415-555-0100', 'call [PHONE] or [PHONE] or [PHONE]', 3],
    ['card 4111-1111-1111-1111 and 5500 0055 5555 5559', 'card [CARD] and [CARD]', 2],
    ['SSN 078-05-1120, NINO QQ123456C', 'SSN [NATIONAL_ID], NINO [NATIONAL_ID]', 2],
  ])('masks %j', (text, masked, count) => {
    expect(everything.mask(text)).toEqual({ text: masked, masked: count });
  });

  it('leaves numbers that are not personal data alone', () => {
    for (const text of ['order 4111111111111112 shipped', 'in 2024 we sold 1234567 units', 'version 1.2.3, port 8080', 'ratio 0.75 of 100']) {
      expect(everything.mask(text)).toEqual({ text, masked: 0 });
    }
  });

  it('masks only the configured kinds', () => {
    expect(createPiiMasker(['email'], []).mask('x@y.io 4111 1111 1111 1111')).toEqual({ text: '[EMAIL] 4111 1111 1111 1111', masked: 1 });
  });
});

describe('walkPromptTexts', () => {
  it('visits and rewrites the prompt text of chat, completions and responses bodies, nothing else', () => {
    const body = {
      model: 'm@example.com',
      messages: [{ role: 'user', content: 'a' }, { role: 'user', content: [{ type: 'text', text: 'b' }, { type: 'image_url', image_url: { url: 'c' } }] }],
      prompt: ['d', 'e'],
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'f' }] }, 'g'],
      user: 'h',
    };
    const seen: string[] = [];
    expect(walkPromptTexts(body, (text) => (seen.push(text), text.toUpperCase()))).toBe(true);
    expect(seen.sort()).toEqual(['a', 'b', 'd', 'e', 'f', 'g']);
    expect(body.messages[0]?.content).toBe('A');
    expect(body.prompt).toEqual(['D', 'E']);
    expect(body.model).toBe('m@example.com');
    expect(body.user).toBe('h');
  });

  it('stops, and says so, after the bounded number of values', () => {
    const body = { prompt: Array.from({ length: PROMPT_TEXT_MAX_VALUES + 10 }, () => 'x') };
    expect(walkPromptTexts(body, () => undefined)).toBe(false);
    expect(walkPromptTexts('not an object', () => undefined)).toBe(true);
  });
});

describe('guardrails configuration', () => {
  it('is off by default and refuses bad patterns and rule names', () => {
    expect(guardrailsEnabled(guardrailsConfigSchema.parse({}))).toBe(false);
    expect(guardrailsEnabled(guardrailsConfigSchema.parse({ pii: { kinds: ['email'] } }))).toBe(false);
    expect(guardrailsEnabled(guardrailsConfigSchema.parse({ pii: { kinds: ['email'], maskRequests: true } }))).toBe(true);
    expect(problemsOf(() => parseConfig({ replicas: [{ url: 'http://127.0.0.1:8000', models: ['m'] }], auth: { enabled: false }, guardrails: { denyPatterns: [{ name: 'Bad Name', pattern: '(' }] } }))).toEqual([
      expect.stringMatching(/^guardrails\.denyPatterns\.0\.name: /),
      expect.stringMatching(/^guardrails\.denyPatterns\.0\.pattern: not a valid regular expression/),
    ]);
  });
});
