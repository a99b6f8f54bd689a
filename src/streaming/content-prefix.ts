/**
 * A shortcut for `scanPayload` on the events that make up almost all of a chat stream.
 *
 * vLLM (and OpenAI) send every content chunk of a stream with the same bytes up to its text:
 * `{"id":"…","object":"chat.completion.chunk","created":…,"model":"…","choices":[{"index":0,"delta":{"content":"`.
 * The tap learns that prefix from the first content event and afterwards compares it with one
 * native `Buffer.compare`, then walks only the keys after it (`finish_reason`, `usage`, a second
 * choice…) instead of every key of the payload.
 *
 * Why it gives exactly `scanPayload`'s verdict: a payload that starts with the prefix shares its
 * leading `{` and first key (so the shape check's front half holds), and every key in the prefix;
 * at learning time the prefix was checked to hold no key the scan acts on except the final
 * `"content"`, whose value is non-empty when the byte after the prefix is not `"`. What is left
 * (the closing `}` and the keys after the prefix) is checked per event. Anything else — another
 * id, another choice index, a role in the delta, an empty content — does not match and takes the
 * full scan.
 */

import { closingQuote, lastString } from './event-templates.js';
import { endsWithCloseBrace, needsParseByShape, SCAN_CONTENT, SCAN_PARSE, SCAN_PLAIN, scanKeys } from './sse-event.js';

/** `classify` could not decide: use `scanPayload`. */
export const PREFIX_MISMATCH = -1;

const QUOTE = 0x22;
/** Where the prefix ends: the content text of the first choice's delta, its only key so far. */
const CONTENT_OPENER = Buffer.from('"delta":{"content":"');

export class ContentPrefix {
  private prefix: Buffer | undefined;

  get learned(): boolean {
    return this.prefix !== undefined;
  }

  /** Learns the prefix from the payload `buf[start, end)`, which the parser classified as content. */
  learn(buf: Buffer, start: number, end: number): void {
    if (this.prefix !== undefined || needsParseByShape(buf, start, end)) return;
    // Once per stream: a multi-byte indexOf costs ~200 ns, acceptable here, never per event.
    const opener = buf.indexOf(CONTENT_OPENER, start);
    if (opener === -1) return;
    const prefixEnd = opener + CONTENT_OPENER.length;
    if (prefixEnd >= end || buf[prefixEnd] === QUOTE) return;
    // The prefix's keys, up to the colon of the final "content" key, must mean nothing to the scan.
    if (scanKeys(buf, start, start, prefixEnd - 2) !== SCAN_PLAIN) return;
    this.prefix = Buffer.from(buf.subarray(start, prefixEnd));
  }

  /** `scanPayload(buf, start, end)` when the payload starts with the learned prefix, else PREFIX_MISMATCH. */
  classify(buf: Buffer, start: number, end: number): number {
    const prefix = this.prefix;
    if (prefix === undefined) return PREFIX_MISMATCH;
    const text = start + prefix.length;
    if (text >= end || buf[text] === QUOTE || !bytesAt(buf, start, prefix)) return PREFIX_MISMATCH;
    if (!endsWithCloseBrace(buf, text, end)) return SCAN_PARSE;
    return scanKeys(buf, start, text, end) === SCAN_PARSE ? SCAN_PARSE : SCAN_CONTENT;
  }

  /**
   * Characters of the text of a payload `classify` called content: the string right after the
   * prefix (0 when it is not a valid JSON string).
   */
  textCharacters(buf: Buffer, start: number, end: number): number {
    const text = start + this.prefix!.length;
    return closingQuote(buf, text, end) === -1 ? 0 : lastString.characters;
  }
}

/** `buf` holds `expected` at offset `at` (one native compare; a JS byte loop is slower past a few dozen bytes). */
function bytesAt(buf: Buffer, at: number, expected: Buffer): boolean {
  const to = at + expected.length;
  return to <= buf.length && expected.compare(buf, at, to) === 0;
}
