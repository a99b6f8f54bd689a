import type { StreamUsage } from '../streaming/stream-facts.js';
import { usageFromReport } from '../streaming/usage-report.js';

/** How much of a JSON response's end is kept to find its usage: vLLM puts `usage` near the end. */
export const USAGE_TAIL_BYTES = 4096;

const USAGE_KEY = Buffer.from('"usage":');

/**
 * Reads the `usage` object from the tail of a JSON response body without parsing the whole body
 * (an embeddings answer can be megabytes of floats). Chat/completions/embeddings name the fields
 * prompt_tokens / completion_tokens, the Responses API input_tokens / output_tokens.
 */
export function usageFromJsonTail(tail: Buffer): StreamUsage | undefined {
  const key = tail.lastIndexOf(USAGE_KEY);
  if (key < 0) return undefined;
  let start = key + USAGE_KEY.length;
  while (start < tail.length && (tail[start] === 0x20 || tail[start] === 0x0a || tail[start] === 0x0d || tail[start] === 0x09)) start += 1;
  if (tail[start] !== 0x7b) return undefined;
  const end = matchingBrace(tail, start);
  if (end < 0) return undefined;
  let usage: unknown;
  try {
    usage = JSON.parse(tail.toString('utf8', start, end + 1));
  } catch {
    return undefined;
  }
  return typeof usage === 'object' && usage !== null && !Array.isArray(usage) ? usageFromReport(usage as Record<string, unknown>) : undefined;
}

/** Index of the `}` closing the object that opens at `start`, skipping braces inside strings. */
function matchingBrace(bytes: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  for (let index = start; index < bytes.length; index += 1) {
    const byte = bytes[index];
    if (inString) {
      if (byte === 0x5c) index += 1; // backslash: skip the escaped byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b) depth += 1;
    else if (byte === 0x7d && --depth === 0) return index;
  }
  return -1;
}
