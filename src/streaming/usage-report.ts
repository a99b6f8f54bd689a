import type { StreamUsage } from './stream-facts.js';

/**
 * A replica's `usage` object is untrusted input: it feeds BigInt cost arithmetic, Prometheus
 * counters and rate-limit settlement, none of which take 3.5, -1, 1e300 or "12". This is the one
 * place its counts are read, for streams and JSON bodies alike; past it every count is a
 * non-negative safe integer.
 */

/** A token count as reported, or undefined when it is not a non-negative safe integer. */
export function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

const ABSENT = Symbol('absent');

/** The field's count; ABSENT when the replica left it out (missing or null); undefined when it is not a count. */
function field(report: Record<string, unknown>, ...names: string[]): number | undefined | typeof ABSENT {
  for (const name of names) {
    const value = report[name];
    if (value !== undefined && value !== null) return tokenCount(value);
  }
  return ABSENT;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The usage a replica reported, or undefined when it reported none the gateway can trust: no
 * prompt count, or any count that is not a non-negative safe integer. Undefined means "usage
 * missing", so the request's tokens are estimated (and labelled so) rather than taken from a
 * garbled answer. Chat, completions and embeddings name the fields prompt_tokens /
 * completion_tokens; the Responses API input_tokens / output_tokens. Cached prompt tokens above
 * the prompt count are clamped to it.
 */
export function usageFromReport(report: Record<string, unknown>): StreamUsage | undefined {
  const prompt = field(report, 'prompt_tokens', 'input_tokens');
  const completion = field(report, 'completion_tokens', 'output_tokens');
  const total = field(report, 'total_tokens');
  const detailsValue = report.prompt_tokens_details ?? report.input_tokens_details;
  const cached = isObject(detailsValue) ? field(detailsValue, 'cached_tokens') : ABSENT;
  if (prompt === undefined || prompt === ABSENT || completion === undefined || total === undefined || cached === undefined) return undefined;
  const completionTokens = completion === ABSENT ? 0 : completion;
  const totalTokens = total === ABSENT ? prompt + completionTokens : total;
  // Two safe counts can add up past 2^53, where sums are no longer exact.
  if (!Number.isSafeInteger(totalTokens)) return undefined;
  return {
    promptTokens: prompt,
    completionTokens,
    totalTokens,
    cachedPromptTokens: cached === ABSENT ? undefined : Math.min(cached, prompt),
  };
}
