import { StableHasher } from './stable-hash.js';

/**
 * The session key of a request: what should bring a conversation back to the replica that holds
 * its KV cache. Only a 32-bit hash is kept; the prompt text is read, never stored.
 *
 * Sources, first found wins:
 * 1. the session header (default `x-session-id`);
 * 2. body fields in the configured order (default `prompt_cache_key`, then `user`);
 * 3. a prefix key: the first `prefixCharacters` characters of the prompt's stable beginning:
 *    - chat: the first system/developer message with text, else the first message with text (its
 *      string content, or its text parts joined with nothing between them);
 *    - completions: `prompt` (a string, or the first string of an array);
 *    - Responses: `instructions`, else `input` (a string, or the first message's text, chosen as
 *      for chat).
 *    Requests that share a long prefix then meet the same cache even without a session id.
 *
 * Every key is scoped by the principal: the hash covers `principal ?? ''`, a NUL, then the value
 * (the id, or the prefix text). Two tenants that both call their conversation "default", or share
 * a stock system prompt, do not pile onto one replica; one tenant cannot aim at another's replica.
 *
 * Empty and whitespace-only values are skipped (the next source is tried); an array header uses
 * its first value; non-string body values are ignored.
 */

export interface SessionKeySettings {
  /** Lower-case header name (Node lower-cases incoming header names); null disables the header. */
  header: string | null;
  /** Body fields tried in order. */
  bodyFields: readonly ('prompt_cache_key' | 'user')[];
  /** Characters (UTF-16 code units) of the prompt's beginning hashed into a prefix key; 0 disables it. */
  prefixCharacters: number;
}

export type SessionKeySource = 'header' | 'prompt_cache_key' | 'user' | 'prefix';

export interface SessionKey {
  readonly hash: number;
  readonly source: SessionKeySource;
  /** The header or body value, for traces; undefined for prefix keys (their text is never kept). */
  readonly conversationId: string | undefined;
}

export const DEFAULT_SESSION_KEY_SETTINGS: SessionKeySettings = Object.freeze({
  header: 'x-session-id',
  bodyFields: Object.freeze(['prompt_cache_key', 'user'] as const),
  prefixCharacters: 1024,
});

const hasher = new StableHasher();

/** Hash of `principal ?? ''`, NUL, value: the key of an explicit session id. */
export function sessionIdHash(principal: string | undefined, value: string): number {
  return hasher
    .reset()
    .update(principal ?? '')
    .update('\u0000')
    .update(value)
    .digest();
}

export function sessionKeyOf(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: unknown,
  principal: string | undefined,
  settings: SessionKeySettings,
): SessionKey | undefined {
  if (settings.header !== null) {
    const raw = headers[settings.header];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value === 'string' && hasVisibleText(value, value.length)) {
      return { hash: sessionIdHash(principal, value), source: 'header', conversationId: value };
    }
  }
  if (!isRecord(body)) return undefined;
  for (const field of settings.bodyFields) {
    const value = body[field];
    if (typeof value === 'string' && hasVisibleText(value, value.length)) {
      return { hash: sessionIdHash(principal, value), source: field, conversationId: value };
    }
  }
  if (settings.prefixCharacters > 0) {
    const hash = prefixHash(body, principal, settings.prefixCharacters);
    if (hash !== undefined) return { hash, source: 'prefix', conversationId: undefined };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Prefix keys. The hasher streams over the prompt's text parts in place: no joined or sliced copy.

/** Characters still to hash, and whether any of them was not whitespace. */
let budget = 0;
let visible = false;

function prefixHash(body: Readonly<Record<string, unknown>>, principal: string | undefined, limit: number): number | undefined {
  const messages = body.messages;
  const input = body.input;
  const instructions = body.instructions;
  return (
    (Array.isArray(messages) ? promptHash(firstMessage(messages), principal, limit) : undefined) ??
    promptHash(body.prompt, principal, limit) ??
    (typeof instructions === 'string' ? promptHash(instructions, principal, limit) : undefined) ??
    promptHash(Array.isArray(input) ? firstMessage(input) : input, principal, limit)
  );
}

function promptHash(prompt: unknown, principal: string | undefined, limit: number): number | undefined {
  if (prompt === undefined || prompt === null) return undefined;
  hasher.reset().update(principal ?? '').update('\u0000');
  budget = limit;
  visible = false;
  hashPrompt(prompt);
  return visible ? hasher.digest() : undefined;
}

/**
 * For a messages array (chat `messages`, Responses `input`), the message whose text begins the
 * prompt: the first system/developer message with text, else the first message with text. An
 * array that is not of messages (completions prompts, bare text parts) is returned as it is.
 */
function firstMessage(value: readonly unknown[]): unknown {
  const head: unknown = value[0];
  if (!isRecord(head) || !('content' in head || 'role' in head)) return value;
  let firstWithText: unknown;
  for (const message of value) {
    if (!isRecord(message) || !contentHasText(message.content)) continue;
    if (message.role === 'system' || message.role === 'developer') return message;
    firstWithText ??= message;
  }
  return firstWithText;
}

/** Hashes up to `budget` characters of a prompt: a string, a message, text parts, or the first string of an array. */
function hashPrompt(prompt: unknown): void {
  if (typeof prompt === 'string') {
    hashText(prompt);
  } else if (Array.isArray(prompt)) {
    const first: unknown = prompt[0];
    if (typeof first === 'string') hashText(first); // completions: an array of prompts; token-id arrays are ignored
    else if (isRecord(first)) hashContent(prompt); // text parts given directly
  } else if (isRecord(prompt)) {
    hashContent(prompt.content);
  }
}

/** Message content: a string, or parts whose text (`text`, `input_text` and the like) is hashed in order. */
function hashContent(content: unknown): void {
  if (typeof content === 'string') {
    hashText(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (let i = 0; i < content.length && budget > 0; i++) {
    const part: unknown = content[i];
    if (isRecord(part) && typeof part.text === 'string' && isTextPart(part.type)) hashText(part.text);
  }
}

function isTextPart(type: unknown): boolean {
  return type === undefined || type === 'text' || type === 'input_text' || type === 'output_text';
}

function contentHasText(content: unknown): boolean {
  if (typeof content === 'string') return hasVisibleText(content, content.length);
  if (!Array.isArray(content)) return false;
  for (const part of content) {
    if (isRecord(part) && typeof part.text === 'string' && isTextPart(part.type) && hasVisibleText(part.text, part.text.length)) {
      return true;
    }
  }
  return false;
}

function hashText(text: string): void {
  if (budget <= 0 || text.length === 0) return;
  let end = Math.min(text.length, budget);
  // Do not cut a surrogate pair in two: stop before its first half.
  if (end < text.length && end > 0) {
    const unit = text.charCodeAt(end - 1);
    if (unit >= 0xd800 && unit <= 0xdbff) end--;
  }
  hasher.update(text, 0, end);
  budget = end === 0 ? 0 : budget - end; // end 0: the budget ends inside a surrogate pair
  if (!visible) visible = hasVisibleText(text, end);
}

/** Whether `text.slice(0, end)` has a character other than JavaScript whitespace (`\s`). */
function hasVisibleText(text: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const unit = text.charCodeAt(i);
    if (unit > 0x20 && unit < 0x7f) return true;
    if (!isWhitespace(unit)) return true;
  }
  return false;
}

function isWhitespace(unit: number): boolean {
  return (
    (unit >= 0x09 && unit <= 0x0d) ||
    unit === 0x20 ||
    unit === 0xa0 ||
    unit === 0x1680 ||
    (unit >= 0x2000 && unit <= 0x200a) ||
    unit === 0x2028 ||
    unit === 0x2029 ||
    unit === 0x202f ||
    unit === 0x205f ||
    unit === 0x3000 ||
    unit === 0xfeff
  );
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
