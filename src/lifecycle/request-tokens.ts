import type { StreamFacts, StreamUsage } from '../streaming/stream-facts.js';
import type { RequestObservation } from './observation.js';
import { estimatePromptTokens, estimateTextTokens } from './token-estimate.js';

export type TokenSource = 'exact' | 'estimated' | 'none';

export interface TokenCount {
  readonly input: number;
  readonly cachedInput: number;
  readonly output: number;
  readonly source: TokenSource;
}

const NO_TOKENS: TokenCount = { input: 0, cachedInput: 0, output: 0, source: 'none' };

/**
 * The tokens a finished request used. Exact counts come from the replica's usage (stream usage
 * event or JSON body). Without usage (the client left, the stream broke, the replica never sent
 * it), a request the replica worked on (it answered 2xx) is estimated: prompt from the request's
 * text, output from the generated text the stream carried, by the same characters-per-token rule,
 * and never fewer than one token per content event (a replica may send several tokens per event,
 * never fewer than one). Requests the replica never worked on count no tokens.
 */
export function tokensOf(observation: RequestObservation): TokenCount {
  const usage: StreamUsage | undefined = observation.streamFacts?.usage ?? observation.bodyUsage;
  if (usage !== undefined) {
    return {
      input: usage.promptTokens,
      cachedInput: usage.cachedPromptTokens ?? 0,
      output: usage.completionTokens,
      source: 'exact',
    };
  }
  const status = observation.status;
  if (status === undefined || status >= 300 || observation.dispatchedAt === undefined) return NO_TOKENS;
  return {
    input: estimatePromptTokens(observation.requestJson),
    cachedInput: 0,
    output: estimatedOutputTokens(observation.streamFacts),
    source: 'estimated',
  };
}

function estimatedOutputTokens(facts: StreamFacts | undefined): number {
  if (facts === undefined) return 0;
  return Math.max(facts.contentEvents, estimateTextTokens(facts.contentCharacters));
}
