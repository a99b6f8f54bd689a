import type { Prng } from './prng.js';
import { COMMA_ID, PERIOD_ID, SPACED_WORD_IDS, detokenize, vocabularyJsonString } from './tokenizer.js';

/**
 * Token ids of a generated answer: words from the vocabulary, one token each, the first without a
 * leading space (like BPE output after `assistant\n`), the odd comma, and a closing period when
 * the sequence stopped naturally.
 */
export function generateTokenIds(prng: Prng, count: number, stoppedNaturally: boolean): number[] {
  const ids = new Array<number>(count);
  let lastWasComma = true;
  for (let i = 0; i < count; i++) {
    if (stoppedNaturally && i === count - 1 && count > 1) {
      ids[i] = PERIOD_ID;
      break;
    }
    if (!lastWasComma && i < count - 2 && prng.next() < 0.08) {
      ids[i] = COMMA_ID;
      lastWasComma = true;
      continue;
    }
    const spaced = SPACED_WORD_IDS[prng.int(0, SPACED_WORD_IDS.length - 1)] as number;
    ids[i] = i === 0 ? spaced + 1 : spaced;
    lastWasComma = false;
  }
  return ids;
}

export function generatedText(ids: readonly number[]): string {
  return detokenize(ids);
}

/** `JSON.stringify(generatedText(ids))`, without building and re-escaping the text. */
export function generatedTextJson(ids: readonly number[]): string {
  return vocabularyJsonString(ids) ?? JSON.stringify(generatedText(ids));
}
