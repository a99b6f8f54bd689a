import type { PiiKind } from './config.js';

const PLACEHOLDER: Record<PiiKind, string> = { email: '[EMAIL]', phone: '[PHONE]', card: '[CARD]', national_id: '[NATIONAL_ID]' };

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/** 13-19 digits, optionally grouped by single spaces or dashes: card numbers as people type them. */
const CARD_CANDIDATE = /\b\d(?:[ -]?\d){12,18}\b/g;
/**
 * Phone numbers in the forms people write: international (+ and 8-15 digits) or a national number
 * with a separated area code ((555) 123-4567, 555-123-4567, 555.123.4567). Bare digit runs are left
 * alone: they are far more often ids, amounts or years than phone numbers.
 */
const PHONE = /(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|\(\d{3}\)[ .-]?\d{3}[ .-]?\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4})\b/g;

/** The Luhn checksum every payment card number passes (and most random digit runs do not). */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index--) {
    let digit = digits.charCodeAt(index) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

export interface PiiMasker {
  /** The text with every configured kind replaced by its placeholder, and how many were replaced. */
  mask(text: string): { text: string; masked: number };
}

/**
 * Masks personal data in free text. Cards are matched by shape and then confirmed by the Luhn
 * check, so order numbers and timestamps of the same length stay. Emails go first (an address
 * can contain digits that look like a phone number), then national ids, cards and phones.
 */
export function createPiiMasker(kinds: readonly PiiKind[], nationalIdPatterns: readonly string[]): PiiMasker {
  const steps: Array<(text: string, count: () => void) => string> = [];
  const want = new Set(kinds);
  if (want.has('email')) steps.push((text, count) => text.replace(EMAIL, () => (count(), PLACEHOLDER.email)));
  if (want.has('national_id')) {
    for (const source of nationalIdPatterns) {
      const pattern = new RegExp(source, 'gu');
      steps.push((text, count) => text.replace(pattern, () => (count(), PLACEHOLDER.national_id)));
    }
  }
  if (want.has('card')) {
    steps.push((text, count) =>
      text.replace(CARD_CANDIDATE, (candidate) => {
        if (!passesLuhn(candidate.replace(/[ -]/g, ''))) return candidate;
        count();
        return PLACEHOLDER.card;
      }),
    );
  }
  if (want.has('phone')) steps.push((text, count) => text.replace(PHONE, () => (count(), PLACEHOLDER.phone)));
  return {
    mask: (text) => {
      let masked = 0;
      const count = (): void => {
        masked++;
      };
      let result = text;
      for (const step of steps) result = step(result, count);
      return { text: result, masked };
    },
  };
}
