import { PUNCTUATION, SPECIAL_TOKENS, WORDS } from './vocabulary.js';

/**
 * Deterministic stand-in for a BPE tokenizer. Known words (with or without a leading space),
 * punctuation and special tokens are one token each; any other text becomes byte tokens of up to
 * three UTF-8 bytes packed into the id, so `detokenize(tokenize(text)) === text` for all text.
 */

/** id -> text for every vocabulary entry (words, then punctuation, then specials). */
const idToText: string[] = [];
/** The same strings JSON-escaped (without quotes), so frames can splice them in directly. */
const idToJson: string[] = [];
const textToId = new Map<string, number>();

function addEntry(text: string): number {
  const id = idToText.length;
  idToText.push(text);
  idToJson.push(JSON.stringify(text).slice(1, -1));
  if (!textToId.has(text)) textToId.set(text, id);
  return id;
}

/** Ids of ' word' (spaced) for generation; the unspaced variant is id + 1. */
export const SPACED_WORD_IDS: readonly number[] = WORDS.map((word) => {
  const spaced = addEntry(` ${word}`);
  addEntry(word);
  return spaced;
});
const punctuationIds = PUNCTUATION.map((mark) => addEntry(mark));
export const PERIOD_ID = punctuationIds[0] as number;
export const COMMA_ID = punctuationIds[1] as number;
export const NEWLINE_ID = punctuationIds[6] as number;
const specialIds = SPECIAL_TOKENS.map((special) => addEntry(special));
export const IM_START_ID = specialIds[0] as number;
export const IM_END_ID = specialIds[1] as number;
export const VOCABULARY_SIZE = idToText.length;

/** Byte tokens live above the vocabulary: BYTE_BASE + (length - 1) * 2^24 + big-endian bytes. */
const BYTE_BASE = 1 << 16;
const BYTE_SPAN = 1 << 24;
const MAX_BYTE_ID = BYTE_BASE + 3 * BYTE_SPAN - 1;

/** GPT-2 style pre-split: optional space + letters, up to 3 digits, punctuation runs, spaces. */
const PIECE_PATTERN = / ?\p{L}+| ?\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+/gu;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The UTF-8 bytes of a piece; ASCII (the common case) skips TextEncoder's buffer allocation. */
function utf8Bytes(piece: string): ArrayLike<number> {
  const codes = new Array<number>(piece.length);
  for (let i = 0; i < piece.length; i++) {
    const code = piece.charCodeAt(i);
    if (code >= 0x80) return encoder.encode(piece);
    codes[i] = code;
  }
  return codes;
}

function pushByteTokens(piece: string, out: number[]): void {
  const bytes = utf8Bytes(piece);
  for (let start = 0; start < bytes.length; start += 3) {
    const length = Math.min(3, bytes.length - start);
    let packed = 0;
    for (let k = 0; k < length; k++) packed = packed * 256 + (bytes[start + k] as number);
    out.push(BYTE_BASE + (length - 1) * BYTE_SPAN + packed);
  }
}

/** Appends the token ids of `text` to `out` (so templates can build one array without copies). */
export function tokenizeInto(text: string, out: number[]): number[] {
  PIECE_PATTERN.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = PIECE_PATTERN.exec(text)) !== null) {
    const piece = match[0];
    const id = textToId.get(piece);
    if (id !== undefined) out.push(id);
    else pushByteTokens(piece, out);
  }
  return out;
}

export function tokenize(text: string): number[] {
  return tokenizeInto(text, []);
}

export function isValidTokenId(id: number): boolean {
  return Number.isInteger(id) && ((id >= 0 && id < VOCABULARY_SIZE) || (id >= BYTE_BASE && id <= MAX_BYTE_ID));
}

/** Text of a vocabulary token (not byte tokens); used for generated output. */
export function tokenText(id: number): string {
  return idToText[id] ?? '';
}

/** JSON-escaped text of a vocabulary token, ready to splice between quotes. */
export function tokenJson(id: number): string {
  return idToJson[id] ?? '';
}

/**
 * `JSON.stringify(detokenize(ids))` for ids that are all vocabulary tokens (generated text
 * always is), spliced from the pre-escaped strings; null when a byte token is present. JSON
 * escapes each character on its own, so the splice is byte-identical to stringifying the whole.
 */
export function vocabularyJsonString(ids: readonly number[]): string | null {
  let json = '"';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (!(id >= 0 && id < VOCABULARY_SIZE && Number.isInteger(id))) return null;
    json += idToJson[id] as string;
  }
  return `${json}"`;
}

/** Inverse of tokenize. Throws RangeError on an id outside the vocabulary. */
export function detokenize(ids: readonly number[]): string {
  let text = '';
  let pendingBytes: number[] = [];
  const flushBytes = (): void => {
    if (pendingBytes.length > 0) {
      text += decoder.decode(Uint8Array.from(pendingBytes));
      pendingBytes = [];
    }
  };
  for (const id of ids) {
    if (!isValidTokenId(id)) throw new RangeError(`Token id ${id} is out of vocabulary`);
    if (id < VOCABULARY_SIZE) {
      flushBytes();
      text += idToText[id] as string;
      continue;
    }
    const offset = id - BYTE_BASE;
    const length = Math.floor(offset / BYTE_SPAN) + 1;
    let packed = offset % BYTE_SPAN;
    const bytes: number[] = [];
    for (let k = 0; k < length; k++) {
      bytes.unshift(packed & 0xff);
      packed = Math.floor(packed / 256);
    }
    pendingBytes.push(...bytes);
  }
  flushBytes();
  return text;
}
