/**
 * The stream tap's fast path: recognition of ordinary content events, the events that make up
 * almost all of a stream. Its exact fallback is the parse (sse-event.ts `parsePayload`): an event
 * a template does not recognise is parsed, and only parsed events teach templates.
 *
 * vLLM writes each content event as its own chunk, and within a stream every one of them has the
 * same bytes except its text: `data: {"id":…,"choices":[{"index":0,"delta":{"content":"` + text +
 * `"},"logprobs":null,"finish_reason":null,…}]}` + blank line. The tap learns that template (the
 * bytes before the text and after it) from an event the parse classified as content-bearing, and
 * afterwards recognises such an event with two compares and a walk over the text: a whole chunk
 * of them without the splitter (`wholeEvents`), or one event the splitter found (`matchEvent`).
 *
 * Why the verdict is exact: a matching event differs from the learned one only in the value of
 * one JSON string, which is still a valid, non-empty JSON string (the walk checks every escape
 * and rejects control bytes, so the text cannot hold a line end or close the string early). The
 * parser therefore reads the same structure with another string in one place: the same kind
 * (content: the string is the value of a `content`, `text` or reasoning key and not empty, or
 * content came from elsewhere in the unchanged bytes), no finish reason, no usage, no error,
 * since the learned event had none. A tool call's `arguments` string varies the same way: the
 * event is content because its `tool_calls` array, in the unchanged bytes, is not empty. The line
 * structure is the learned event's: its only line break is in the template's end.
 *
 * A few templates are kept (choices of an n > 1 request alternate; reasoning then content), and
 * learning stops when they are full: a stream that keeps changing shape takes the general path.
 */

const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const FIRST_PRINTABLE = 0x20;

/** Templates kept per stream. */
const MAX_TEMPLATES = 4;

/**
 * Keys whose string value is the text a template varies, with their opening quote and colon, in
 * the order they are looked for (a tool call's arguments last: a delta with text varies its text).
 */
const TEXT_OPENERS = ['"content":"', '"text":"', '"reasoning_content":"', '"reasoning":"', '"arguments":"'].map((opener) => Buffer.from(opener));

/** What may follow a backslash in a JSON string: 1 = a one-byte escape, 2 = `u` and four hex digits. */
const ESCAPE = new Uint8Array(256);
for (const byte of Buffer.from('"\\/bfnrt')) ESCAPE[byte] = 1;
ESCAPE[0x75] = 2;
const HEX = new Uint8Array(256);
for (const byte of Buffer.from('0123456789abcdefABCDEF')) HEX[byte] = 1;

/**
 * What the last `closingQuote` call that found its quote learned about the text: its characters
 * as the decoded string's length counts them (an escape is one, a UTF-8 sequence one, a 4-byte
 * one two, a surrogate pair). Counted in the same walk, for the output estimate: a field rather
 * than a second walk or a returned object, on the path every content event takes.
 */
export const lastString = { characters: 0 };

/**
 * Offset of the quote that closes the JSON string whose text starts at `from`, searching no
 * further than `limit`; -1 when the text is not valid JSON string content (a control byte, an
 * invalid escape) or the closing quote is not found before `limit`. Sets `lastString`.
 */
export function closingQuote(buf: Buffer, from: number, limit: number): number {
  // Bytes that are not a character of their own: UTF-8 continuations and the rest of escapes.
  let extraBytes = 0;
  for (let at = from; at < limit; at++) {
    const byte = buf[at]!;
    if (byte === QUOTE) {
      lastString.characters = at - from - extraBytes;
      return at;
    }
    if (byte < FIRST_PRINTABLE) return -1;
    if (byte === BACKSLASH) {
      const escape = ESCAPE[buf[at + 1] ?? 0]!;
      if (escape === 0) return -1;
      if (escape === 2) {
        if (at + 5 >= limit || HEX[buf[at + 2]!] === 0 || HEX[buf[at + 3]!] === 0 || HEX[buf[at + 4]!] === 0 || HEX[buf[at + 5]!] === 0) return -1;
        at += 4;
        extraBytes += 4;
      }
      at++;
      extraBytes++;
    } else if (byte >= 0x80) {
      // A continuation byte adds no character; a 4-byte sequence's lead adds a second one (its surrogate pair).
      if (byte < 0xc0) extraBytes++;
      else if (byte >= 0xf0) extraBytes--;
    }
  }
  return -1;
}

export class EventTemplates {
  /** Event bytes before the text, per template. */
  private readonly heads: Buffer[] = [];
  /** Event bytes from the quote closing the text to the end of the blank line, per template. */
  private readonly tails: Buffer[] = [];
  /** Text characters of the events the last `wholeEvents` call recognised. */
  textCharacters = 0;

  get count(): number {
    return this.heads.length;
  }

  /**
   * Learns the template of the event `buf[eventStart, eventEnd)`, whose single data line holds
   * the payload `buf[payloadStart, payloadEnd)`. The caller guarantees the event was classified
   * by the parse as content-bearing with no finish reason, usage or error. Not learned when the
   * event does not fit a template (no text key, an empty text, a blank line not ending in LF), when
   * the template is already known, or when the templates are full.
   */
  learn(buf: Buffer, eventStart: number, eventEnd: number, payloadStart: number, payloadEnd: number): void {
    if (this.heads.length >= MAX_TEMPLATES || buf[eventEnd - 1] !== LF) return;
    for (const opener of TEXT_OPENERS) {
      const at = buf.indexOf(opener, payloadStart);
      if (at === -1 || at >= payloadEnd) continue;
      const text = at + opener.length;
      const close = closingQuote(buf, text, payloadEnd);
      if (close > text) this.add(buf.subarray(eventStart, text), buf.subarray(close, eventEnd));
      return;
    }
  }

  private add(head: Buffer, tail: Buffer): void {
    for (let i = 0; i < this.heads.length; i++) if (this.heads[i]!.equals(head) && this.tails[i]!.equals(tail)) return;
    this.heads.push(Buffer.from(head));
    this.tails.push(Buffer.from(tail));
  }

  /**
   * How many events `chunk` holds when it is made only of whole events that match a template,
   * from its first byte to its last; 0 when it is anything else.
   */
  wholeEvents(chunk: Buffer): number {
    const length = chunk.length;
    let events = 0;
    this.textCharacters = 0;
    for (let at = 0; at < length; events++) {
      const end = this.matchAt(chunk, at, length);
      if (end === -1) return 0;
      at = end;
    }
    return events;
  }

  /** Whether `buf[start, end)` is exactly one event of a template; `textCharacters` holds its text's characters. */
  matchEvent(buf: Buffer, start: number, end: number): boolean {
    this.textCharacters = 0;
    return this.matchAt(buf, start, end) === end;
  }

  /** The end of the template event starting at `at` (within `length`), or -1. */
  private matchAt(chunk: Buffer, at: number, length: number): number {
    const heads = this.heads;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i]!;
      const tail = this.tails[i]!;
      const text = at + head.length;
      const textLimit = length - tail.length;
      if (text >= textLimit || head.compare(chunk, at, text) !== 0) continue;
      const close = closingQuote(chunk, text, textLimit + 1);
      if (close <= text || close > textLimit || tail.compare(chunk, close, close + tail.length) !== 0) continue;
      this.textCharacters += lastString.characters;
      return close + tail.length;
    }
    return -1;
  }
}
