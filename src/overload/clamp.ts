import { replaceTopLevelMember } from '../proxy/json-members.js';
import type { RequestBody } from '../proxy/request-body.js';

/** The completion caps each generating operation reads (vLLM prefers max_completion_tokens in chat). */
const CAPS_OF_OPERATION: Readonly<Record<string, readonly string[]>> = {
  chat: ['max_tokens', 'max_completion_tokens'],
  text_completion: ['max_tokens'],
};

/**
 * The body with its completion cap brought down to `ceiling`, or undefined when it already asks
 * for no more (or the operation generates nothing). Every cap member above the ceiling (or null)
 * is replaced by `"name":ceiling`; a body with no cap gets `"max_tokens":ceiling`. Other members
 * keep their bytes exactly as sent (json-members.ts), and the parsed value is a shallow copy with
 * the same caps, so the rate limiter reserves what the replica may now generate.
 */
export function clampCompletionCap(body: RequestBody, operation: string | undefined, ceiling: number): RequestBody | undefined {
  const caps = operation === undefined ? undefined : CAPS_OF_OPERATION[operation];
  const json = body.json;
  if (caps === undefined || typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const fields = json as Record<string, unknown>;
  const present = caps.filter((name) => fields[name] !== undefined && fields[name] !== null);
  // A cap that is not a number is the client's error to hear from the replica (400), not ours to fix.
  if (present.some((name) => typeof fields[name] !== 'number')) return undefined;
  const tooLarge = present.filter((name) => (fields[name] as number) > ceiling);
  if (present.length > 0 && tooLarge.length === 0) return undefined;
  const rewrite = present.length === 0 ? ['max_tokens', ...caps.filter((name) => fields[name] === null)] : tooLarge;
  let raw = body.raw;
  const clamped: Record<string, unknown> = { ...fields };
  for (const name of new Set(rewrite)) {
    raw = replaceTopLevelMember(raw, name, `${JSON.stringify(name)}:${ceiling}`);
    clamped[name] = ceiling;
  }
  return { raw, json: clamped };
}
