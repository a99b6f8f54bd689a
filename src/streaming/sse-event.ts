/**
 * One SSE event's bytes → its data payload → what it means for an OpenAI/vLLM stream:
 * `parsePayload` (`JSON.parse`, then read the chunk) is the tap's exact classifier. Its fast path,
 * for the events a stream repeats, is event-templates.ts; every event that is not one of a learned
 * template comes here.
 */

import type { InBandError, StreamUsage } from './stream-facts.js';
import { usageFromReport } from './usage-report.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

const DATA_FIELD = Buffer.from('data');
const DONE_PAYLOAD = Buffer.from('[DONE]');

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
