/**
 * One SSE event's bytes → its data payload → what it means for an OpenAI/vLLM stream.
 *
 * Two ways to classify a payload:
 * - `parsePayload`: `JSON.parse` and read the chunk (exact; used before the first content event,
 *   and for any event the byte scan flags).
 * - `scanPayload`: byte checks only (`Buffer.indexOf` of single bytes, then byte compares against
 *   precomputed key Buffers), no string, no allocation. It says "content", "not content", or
 *   "parse me" (a non-null `finish_reason`, a `usage` object, an error event, a payload not shaped
 *   like an object), and agrees with `parsePayload` on whether an event is content. It relies on JSON strings escaping `"`: a key such as `"content"` followed by `:`
 *   can only be a key, never text inside a value.
 */

import type { InBandError, StreamUsage } from './stream-facts.js';
import { usageFromReport } from './usage-report.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

const DATA_FIELD = Buffer.from('data');
const DONE_PAYLOAD = Buffer.from('[DONE]');
const ERROR_KEY = Buffer.from('"error"');

// ---------------------------------------------------------------------------------------------
// Locating the data payload

/** Where an event's data payload is: a byte range of the event's buffer, or (several `data:` lines) a joined string. */
export interface DataLocation {
  start: number;
  end: number;
  /** Set only when the event has several `data:` lines: their values joined with "\n". */
  text: string | undefined;
}

export function createDataLocation(): DataLocation {
  return { start: 0, end: 0, text: undefined };
}

/** Offset where a `data` line's value starts (after `data:` and one optional space), or -1 for any other line. */
function dataValueStart(buf: Buffer, lineStart: number, lineEnd: number): number {
  const nameEnd = lineStart + DATA_FIELD.length;
  if (nameEnd > lineEnd) return -1;
  for (let i = 0; i < DATA_FIELD.length; i++) if (buf[lineStart + i] !== DATA_FIELD[i]) return -1;
  if (nameEnd === lineEnd) return lineEnd; // `data` without a colon: the field with an empty value
  if (buf[nameEnd] !== COLON) return -1;
  return nameEnd + 1 < lineEnd && buf[nameEnd + 1] === SPACE ? nameEnd + 2 : nameEnd + 1;
}

/**
 * Finds the data payload of the event in `buf[start, end)` (its terminating blank line included or
 * not). Returns false when the event has no `data` field (a comment-only keep-alive, or only
 * `event:`/`id:`/`retry:` lines). Pass `singleLine` when the event is known to hold exactly one
 * non-empty line: the line scan is then skipped.
 */
export function locateData(buf: Buffer, start: number, end: number, out: DataLocation, singleLine = false): boolean {
  out.text = undefined;
  if (singleLine) {
    let lineEnd = end;
    while (lineEnd > start && (buf[lineEnd - 1] === LF || buf[lineEnd - 1] === CR)) lineEnd--;
    const value = dataValueStart(buf, start, lineEnd);
    if (value === -1) return false;
    out.start = value;
    out.end = lineEnd;
    return true;
  }
  let found = false;
  let lineStart = start;
  while (lineStart < end) {
    let lineEnd = lineStart;
    while (lineEnd < end && buf[lineEnd] !== LF && buf[lineEnd] !== CR) lineEnd++;
    const value = dataValueStart(buf, lineStart, lineEnd);
    if (value !== -1) {
      if (!found) {
        out.start = value;
        out.end = lineEnd;
        found = true;
      } else {
        out.text = `${out.text ?? buf.toString('utf8', out.start, out.end)}\n${buf.toString('utf8', value, lineEnd)}`;
      }
    }
    lineStart = lineEnd + (buf[lineEnd] === CR && buf[lineEnd + 1] === LF && lineEnd + 1 < end ? 2 : 1);
  }
  return found;
}

/** The payload is `[DONE]`. */
export function isDonePayload(buf: Buffer, location: DataLocation): boolean {
  if (location.text !== undefined) return location.text === '[DONE]';
  if (location.end - location.start !== DONE_PAYLOAD.length) return false;
  for (let i = 0; i < DONE_PAYLOAD.length; i++) if (buf[location.start + i] !== DONE_PAYLOAD[i]) return false;
  return true;
}

/** The payload as a string (allocates; for the parse path only). */
export function payloadText(buf: Buffer, location: DataLocation): string {
  return location.text ?? buf.toString('utf8', location.start, location.end);
}

// ---------------------------------------------------------------------------------------------
// Cheap byte scan

/** The payload carries no content and needs no parse. */
export const SCAN_PLAIN = 0;
/** The payload is a content-bearing event and needs no parse. */
export const SCAN_CONTENT = 1;
/** The payload must be parsed: a non-null finish_reason, a usage object, an error event, or not an object. */
export const SCAN_PARSE = 2;

/** What a key's value must look like to count. */
const NON_EMPTY_STRING = 0;
const ANY_STRING = 1;
const OBJECT = 2;
const NON_EMPTY_ARRAY = 3;

/** What a matching key means for the scan. */
const MEANS_CONTENT = 0;
const MEANS_PARSE = 1;

interface WatchedKey {
  /** The key with its quotes. */
  bytes: Buffer;
  shape: number;
  means: number;
}

function watched(key: string, shape: number, means: number): WatchedKey {
  return { bytes: Buffer.from(`"${key}"`), shape, means };
}

/**
 * The keys the scan looks at, by the last letter of the key (the byte before its closing quote),
 * so that each `:` costs one table lookup in the common case of an unwatched key.
 */
const KEYS_BY_LAST_BYTE: (readonly WatchedKey[] | undefined)[] = [];
for (const key of [
  watched('finish_reason', ANY_STRING, MEANS_PARSE),
  watched('usage', OBJECT, MEANS_PARSE),
  watched('content', NON_EMPTY_STRING, MEANS_CONTENT),
  watched('reasoning_content', NON_EMPTY_STRING, MEANS_CONTENT),
  watched('reasoning', NON_EMPTY_STRING, MEANS_CONTENT),
  watched('text', NON_EMPTY_STRING, MEANS_CONTENT),
  watched('tool_calls', NON_EMPTY_ARRAY, MEANS_CONTENT),
]) {
  const last = key.bytes[key.bytes.length - 2]!;
  KEYS_BY_LAST_BYTE[last] = [...(KEYS_BY_LAST_BYTE[last] ?? []), key];
}

function isSpace(byte: number | undefined): boolean {
  return byte === SPACE || byte === TAB || byte === LF || byte === CR;
}

function skipSpace(buf: Buffer, at: number, end: number): number {
  while (at < end && isSpace(buf[at])) at++;
  return at;
}

/** `buf` holds `bytes` ending at offset `last` (inclusive), all within [start, …). */
function endsWith(buf: Buffer, last: number, start: number, bytes: Buffer): boolean {
  const first = last - bytes.length + 1;
  if (first < start) return false;
  for (let i = bytes.length - 1; i >= 0; i--) if (buf[first + i] !== bytes[i]) return false;
  return true;
}

/** The watched key that ends just before the `:` at `colon` (whitespace allowed), if any. */
function keyBefore(buf: Buffer, colon: number, start: number): WatchedKey | undefined {
  let quote = colon - 1;
  while (quote > start && isSpace(buf[quote])) quote--;
  if (buf[quote] !== QUOTE || quote <= start) return undefined;
  const candidates = KEYS_BY_LAST_BYTE[buf[quote - 1]!];
  if (candidates === undefined) return undefined;
  for (let i = 0; i < candidates.length; i++) if (endsWith(buf, quote, start, candidates[i]!.bytes)) return candidates[i];
  return undefined;
}

function valueMatches(buf: Buffer, at: number, end: number, shape: number): boolean {
  if (at >= end) return false;
  const first = buf[at];
  switch (shape) {
    case NON_EMPTY_STRING:
      return first === QUOTE && at + 1 < end && buf[at + 1] !== QUOTE;
    case ANY_STRING:
      return first === QUOTE;
    case OBJECT:
      return first === OPEN_BRACE;
    default: {
      if (first !== OPEN_BRACKET) return false;
      const next = skipSpace(buf, at + 1, end);
      return next < end && buf[next] !== CLOSE_BRACKET;
    }
  }
}

/** The last non-space byte of `buf[from, end)` is `}`. */
export function endsWithCloseBrace(buf: Buffer, from: number, end: number): boolean {
  let last = end - 1;
  while (last > from && isSpace(buf[last])) last--;
  return last >= from && buf[last] === CLOSE_BRACE;
}

/** The payload does not look like one JSON object (`{` … `}`), or its first key is `"error"`. */
export function needsParseByShape(buf: Buffer, start: number, end: number): boolean {
  let at = skipSpace(buf, start, end);
  if (at >= end || buf[at] !== OPEN_BRACE || !endsWithCloseBrace(buf, at + 1, end)) return true;
  at = skipSpace(buf, at + 1, end);
  if (at + ERROR_KEY.length > end) return false;
  for (let i = 0; i < ERROR_KEY.length; i++) if (buf[at + i] !== ERROR_KEY[i]) return false;
  return true;
}

/**
 * Classifies the payload `buf[start, end)` without parsing it or allocating. It visits each `:`
 * (found with `Buffer.indexOf` on a single byte, the fast path in Node), looks at the key before
 * it and the first byte or two of the value after it. A payload that is not shaped like an object
 * (a truncated or garbled event) is sent to the parser, which calls it invalid.
 */
export function scanPayload(buf: Buffer, start: number, end: number): number {
  if (needsParseByShape(buf, start, end)) return SCAN_PARSE;
  return scanKeys(buf, start, start, end);
}

/**
 * The colon walk of `scanPayload` over the keys whose `:` lies in `[from, end)` of the payload
 * `buf[start, end)`, without the shape check: SCAN_PARSE, SCAN_CONTENT or SCAN_PLAIN for those keys.
 */
export function scanKeys(buf: Buffer, start: number, from: number, end: number): number {
  let content = false;
  for (let colon = buf.indexOf(COLON, from); colon !== -1 && colon < end; colon = buf.indexOf(COLON, colon + 1)) {
    const key = keyBefore(buf, colon, start);
    if (key === undefined || !valueMatches(buf, skipSpace(buf, colon + 1, end), end, key.shape)) continue;
    if (key.means === MEANS_PARSE) return SCAN_PARSE;
    content = true;
  }
  return content ? SCAN_CONTENT : SCAN_PLAIN;
}

// ---------------------------------------------------------------------------------------------
// Parsed classification

export type PayloadKind =
  /** Some choice carries content, reasoning, tool calls or completion text. */
  | 'content'
  /** A chunk without content: the role chunk, an empty finish chunk, a chunk with usage and choices. */
  | 'other'
  /** `"choices":[]` with a usage object: the include_usage event. */
  | 'usage-only'
  /** `{"error": …}`. */
  | 'error'
  /** Not JSON, or not an object. */
  | 'invalid';

export interface ParsedPayload {
  kind: PayloadKind;
  id: string | undefined;
  model: string | undefined;
  /** Non-null finish_reason values, in choice order; undefined when there are none. */
  finishReasons: string[] | undefined;
  /** The event's usage when its counts can be trusted (usage-report.ts); undefined otherwise. */
  usage: StreamUsage | undefined;
  error: InBandError | undefined;
  /** Characters of generated text in the choices (content, reasoning, tool-call arguments, completion text): the output estimate's input. */
  contentCharacters: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

/** An error value that is not an object, as JSON text; a replica can nest it deeper than JSON.stringify recurses. */
function errorValueText(error: unknown): string {
  try {
    return JSON.stringify(error);
  } catch {
    return 'the replica sent an error value that cannot be shown';
  }
}

function toError(error: unknown): InBandError {
  if (!isObject(error)) return { message: typeof error === 'string' ? error : errorValueText(error), type: null, code: null };
  const { message, type, code } = error;
  return {
    message: typeof message === 'string' ? message : '',
    type: typeof type === 'string' ? type : null,
    code: typeof code === 'string' || typeof code === 'number' ? code : null,
  };
}

/** Length of a string, 0 for anything else. */
function textLength(value: unknown): number {
  return typeof value === 'string' ? value.length : 0;
}

/** Characters of generated text in one choice: delta content, reasoning and tool-call arguments, completion text. */
function choiceTextCharacters(choice: Json): number {
  let characters = textLength(choice.text);
  const delta = choice.delta;
  if (isObject(delta)) {
    characters += textLength(delta.content) + textLength(delta.reasoning_content) + textLength(delta.reasoning);
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        const fn = isObject(call) ? call.function : undefined;
        if (isObject(fn)) characters += textLength(fn.arguments);
      }
    }
  }
  return characters;
}

function choiceHasContent(choice: Json): boolean {
  const delta = choice.delta;
  if (isObject(delta)) {
    if (isNonEmptyString(delta.content) || isNonEmptyString(delta.reasoning_content) || isNonEmptyString(delta.reasoning)) return true;
    if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) return true;
  }
  return isNonEmptyString(choice.text);
}

/** Classifies an already parsed payload (a chat or completions chunk, or an error object). */
export function classifyPayloadValue(value: unknown): ParsedPayload {
  const parsed: ParsedPayload = { kind: 'invalid', id: undefined, model: undefined, finishReasons: undefined, usage: undefined, error: undefined, contentCharacters: 0 };
  if (!isObject(value)) return parsed;
  if (typeof value.id === 'string') parsed.id = value.id;
  if (typeof value.model === 'string') parsed.model = value.model;
  if ('error' in value && value.error !== null && value.error !== undefined) {
    parsed.kind = 'error';
    parsed.error = toError(value.error);
    return parsed;
  }
  const usage = value.usage;
  if (isObject(usage)) parsed.usage = usageFromReport(usage);
  parsed.kind = 'other';
  const choices = value.choices;
  if (!Array.isArray(choices)) return parsed;
  if (choices.length === 0) {
    // Still the usage event, whatever its counts say: the tap strips it when the gateway asked for it.
    if (isObject(usage)) parsed.kind = 'usage-only';
    return parsed;
  }
  for (const choice of choices) {
    if (!isObject(choice)) continue;
    if (choiceHasContent(choice)) {
      parsed.kind = 'content';
      parsed.contentCharacters += choiceTextCharacters(choice);
    }
    if (typeof choice.finish_reason === 'string') (parsed.finishReasons ??= []).push(choice.finish_reason);
  }
  return parsed;
}

/** Parses and classifies a payload; never throws (invalid JSON is kind `invalid`). */
export function parsePayload(text: string): ParsedPayload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  return classifyPayloadValue(value);
}

export type EventKind = PayloadKind | 'none' | 'done';

/**
 * Full classification of one event's bytes (for tests and tools; the tap uses the pieces above):
 * `none` (no data field), `done` (`[DONE]`), or the parsed payload's kind.
 */
export function classifyEvent(event: Buffer): { kind: EventKind; parsed: ParsedPayload | undefined } {
  const location = createDataLocation();
  if (!locateData(event, 0, event.length, location)) return { kind: 'none', parsed: undefined };
  if (isDonePayload(event, location)) return { kind: 'done', parsed: undefined };
  const parsed = parsePayload(payloadText(event, location));
  return { kind: parsed.kind, parsed };
}
