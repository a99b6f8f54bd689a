import { estimatePromptTokens } from '../lifecycle/token-estimate.js';
import type { RateLimitConfig } from './config.js';

/** Operations whose responses generate tokens (the completion part of the reservation). */
const GENERATING_OPERATIONS = new Set(['chat', 'text_completion']);

/**
 * The completion tokens a request may generate at most, as the client capped them:
 * `max_completion_tokens` (chat), `max_tokens` (chat, completions), `max_output_tokens`
 * (responses), times `n` choices. Undefined when the client set no cap (the caller reserves
 * the configured default) and 0 for operations that generate nothing (embeddings, rerank…).
 */
export function requestedCompletionTokens(json: unknown, operation: string | undefined): number | undefined {
  const fields = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  const generates = operation === undefined ? 'max_tokens' in fields : GENERATING_OPERATIONS.has(operation);
  if (!generates) return 0;
  const cap = positiveInteger(fields.max_completion_tokens) ?? positiveInteger(fields.max_tokens) ?? positiveInteger(fields.max_output_tokens);
  if (cap === undefined) return undefined;
  return atMostSafe(cap * (positiveInteger(fields.n) ?? 1));
}

/** Tokens to reserve before dispatch: the prompt estimate plus max_tokens, or the configured default. */
export function reservedTokensFor(promptTokensEstimate: number, maxTokens: number | undefined, config: Pick<RateLimitConfig, 'defaultMaxTokens'>): number {
  return atMostSafe(Math.max(0, Math.ceil(promptTokensEstimate)) + (maxTokens ?? config.defaultMaxTokens));
}

/**
 * What a request body reserves: its prompt estimated the way telemetry estimates it when usage
 * never arrives, plus the completion the client allows (or the configured default).
 */
export function reservationOf(json: unknown, operation: string | undefined, config: Pick<RateLimitConfig, 'defaultMaxTokens'>): number {
  return reservedTokensFor(estimatePromptTokens(json), requestedCompletionTokens(json, operation), config);
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * Clients choose these numbers (`"n": 1e307`): a product or sum past 2^53 is no longer a whole
 * number the stores can charge exactly (Infinity reached Redis as a string). Any reservation that
 * large is refused as larger than its bucket anyway, so capping it changes no decision.
 */
function atMostSafe(tokens: number): number {
  return Math.min(tokens, Number.MAX_SAFE_INTEGER);
}
