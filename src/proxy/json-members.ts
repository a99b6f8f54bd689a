/**
 * Byte surgery on the top level of a JSON object the gateway has already parsed: replaces every
 * member with a given key (however the client spelled it, escapes and duplicates included) with
 * one member, and keeps every other member's bytes exactly as sent. Re-serialising the parsed
 * value instead would round numbers past 2^53 (a `seed`) and rewrite the client's strings.
 *
 * The scan runs once per request, only on the rare body that needs it, and trusts that the bytes
 * are valid JSON (JSON.parse accepted them): it only finds where members begin and end.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

interface Member {
  /** Offset of the key's opening quote. */
  readonly start: number;
  /** Offset just after the value. */
  readonly end: number;
  readonly key: string;
}

/**
 * `raw` with every top-level member named `key` removed and `replacement` (a complete member,
 * `"key":value`) put first. `raw` must be a valid JSON object.
 */
export function replaceTopLevelMember(raw: Buffer, key: string, replacement: string): Buffer {
  const open = skipWhitespace(raw, 0);
  const { members, close } = topLevelMembers(raw, open);
  const parts: Buffer[] = [raw.subarray(0, open + 1), Buffer.from(replacement)];
  for (const member of members) {
    if (member.key === key) continue;
    parts.push(Buffer.from(','), raw.subarray(member.start, member.end));
  }
  parts.push(raw.subarray(close));
  return Buffer.concat(parts);
}

/** The members of the object whose `{` is at `open`, and the offset of its closing `}`. */
function topLevelMembers(raw: Buffer, open: number): { members: Member[]; close: number } {
  const members: Member[] = [];
  let at = skipWhitespace(raw, open + 1);
  while (raw[at] !== CLOSE_BRACE) {
    const start = at;
    const keyEnd = stringEnd(raw, at);
    const key = JSON.parse(raw.toString('utf8', start, keyEnd)) as string;
    at = skipWhitespace(raw, keyEnd);
    if (raw[at] !== COLON) throw new Error('not a JSON object');
    const end = valueEnd(raw, skipWhitespace(raw, at + 1));
    members.push({ start, end, key });
    at = skipWhitespace(raw, end);
    if (raw[at] === COMMA) at = skipWhitespace(raw, at + 1);
    else if (raw[at] !== CLOSE_BRACE) throw new Error('not a JSON object');
  }
  return { members, close: at };
}

function skipWhitespace(raw: Buffer, at: number): number {
  while (at < raw.length) {
    const byte = raw[at]!;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break;
    at++;
  }
  return at;
}

/** Offset just after the string whose opening quote is at `at`. */
function stringEnd(raw: Buffer, at: number): number {
  if (raw[at] !== QUOTE) throw new Error('not a JSON string');
  for (let i = at + 1; i < raw.length; i++) {
    const byte = raw[i];
    if (byte === BACKSLASH) i++;
    else if (byte === QUOTE) return i + 1;
  }
  throw new Error('unterminated JSON string');
}

/** Offset just after the value that starts at `at`. */
function valueEnd(raw: Buffer, at: number): number {
  const first = raw[at];
  if (first === QUOTE) return stringEnd(raw, at);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let i = at; i < raw.length; i++) {
      const byte = raw[i];
      if (byte === QUOTE) i = stringEnd(raw, i) - 1;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --depth === 0) return i + 1;
    }
    throw new Error('unterminated JSON value');
  }
  // A number or a literal: up to the next separator or whitespace.
  let i = at;
  while (i < raw.length) {
    const byte = raw[i]!;
    if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) break;
    i++;
  }
  return i;
}
