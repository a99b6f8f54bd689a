/**
 * How vLLM reads a request's `stream_options`, so the gateway knows whether the replica will send
 * the usage event on its own. vLLM's protocol (vllm/entrypoints/openai/protocol.py):
 *
 *     stream_options: Optional[StreamOptions] = None
 *     class StreamOptions: include_usage: Optional[bool] = True; continuous_usage_stats: Optional[bool] = False
 *
 * and its serving code sends usage when `stream_options` is set and `include_usage` is truthy,
 * and usage on every chunk when `continuous_usage_stats` is truthy as well. pydantic validates the
 * values in lax mode: an object is required (anything else is a 400), an absent field takes its
 * default, `null` is None (falsy), and a bool field accepts the usual lax spellings (0/1, "yes",
 * "off", …); any other value is a 400.
 */

export type VllmStreamUsage =
  /** vLLM answers 400 for this value: the client must get that answer unchanged. */
  | { readonly valid: false }
  | { readonly valid: true; readonly includeUsage: boolean; readonly continuousUsage: boolean };

const INVALID: VllmStreamUsage = { valid: false };
const NO_USAGE: VllmStreamUsage = { valid: true, includeUsage: false, continuousUsage: false };

/** vLLM's reading of the value of `stream_options` (`undefined` when the key is absent). */
export function vllmStreamUsage(options: unknown): VllmStreamUsage {
  if (options === undefined || options === null) return NO_USAGE;
  if (typeof options !== 'object' || Array.isArray(options)) return INVALID;
  const fields = options as Record<string, unknown>;
  const includeUsage = laxOptionalBool(fields['include_usage'], true);
  const continuousUsage = laxOptionalBool(fields['continuous_usage_stats'], false);
  if (includeUsage === undefined || continuousUsage === undefined) return INVALID;
  return { valid: true, includeUsage, continuousUsage: includeUsage && continuousUsage };
}

const TRUE_STRINGS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_STRINGS = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/**
 * pydantic's lax `Optional[bool]` with a default, as a truth value: the default when absent,
 * false for null, the bool for the spellings pydantic accepts, undefined when it rejects the value.
 */
function laxOptionalBool(value: unknown, absent: boolean): boolean | undefined {
  if (value === undefined) return absent;
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    return TRUE_STRINGS.has(lower) ? true : FALSE_STRINGS.has(lower) ? false : undefined;
  }
  return undefined;
}
