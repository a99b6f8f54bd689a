import { describe, expect, it } from 'vitest';

import { chatPromptTokens } from '../../../src/sim/chat-template.js';
import { detokenize, tokenize, tokenText, SPACED_WORD_IDS } from '../../../src/sim/tokenizer.js';

describe('tokenizer', () => {
  it('round-trips any text, including non-ASCII and whitespace runs', () => {
    const samples = ['Hello world, how are you?', 'ünïcödé ✓ 日本語  tabs\tand\nnewlines', '12345 67', ''];
    for (const text of samples) expect(detokenize(tokenize(text))).toBe(text);
  });

  it('makes known words one token each, with their leading space', () => {
    expect(tokenize(' the model')).toHaveLength(2);
    expect(tokenText(SPACED_WORD_IDS[0] as number)).toBe(' the');
  });

  it('is deterministic', () => {
    expect(tokenize('Some prompt text xyzzy')).toEqual(tokenize('Some prompt text xyzzy'));
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => detokenize([-1])).toThrow(RangeError);
    expect(() => detokenize([50_000])).toThrow(RangeError);
  });

  it('renders chat templates with the generation prompt and grows with the conversation', () => {
    const one = chatPromptTokens([{ role: 'user', content: 'hi' }]);
    const two = chatPromptTokens([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'text', text: 'hello there' }] },
    ]);
    expect(detokenize(one)).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    expect(two.length).toBeGreaterThan(one.length);
  });
});
