/**
 * The test's own reading of `stream_options` as vLLM reads it (vllm/entrypoints/openai/protocol.py:
 * `stream_options: Optional[StreamOptions] = None`, `include_usage: Optional[bool] = True`,
 * `continuous_usage_stats: Optional[bool] = False`, pydantic in lax mode): an independent oracle
 * for what the replica will do with the body the gateway sends.
 */
export type StreamUsageReading = { readonly valid: false } | { readonly valid: true; readonly includeUsage: boolean };

export function vllmStreamUsage(options: unknown): StreamUsageReading {
  if (options === undefined || options === null) return { valid: true, includeUsage: false };
  if (typeof options !== 'object' || Array.isArray(options)) return { valid: false };
  const fields = options as Record<string, unknown>;
  const includeUsage = laxBool(fields.include_usage, true);
  const continuous = laxBool(fields.continuous_usage_stats, false);
  if (includeUsage === undefined || continuous === undefined) return { valid: false };
  return { valid: true, includeUsage };
}

const TRUE = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/** pydantic's lax Optional[bool]: the default when absent, false for null, 0/1 and the usual spellings, undefined (a 400) otherwise. */
function laxBool(value: unknown, absent: boolean): boolean | undefined {
  if (value === undefined) return absent;
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value === 'string') return TRUE.has(value.toLowerCase()) ? true : FALSE.has(value.toLowerCase()) ? false : undefined;
  return undefined;
}
