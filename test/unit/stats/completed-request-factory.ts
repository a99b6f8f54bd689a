import type { CompletedRequest } from '../../../src/telemetry/stats/completed-request.js';
export { seededRandom } from '../../helpers/seeded-random.js';

/** A successful request with round numbers; override what a test is about. */
export function completedRequest(overrides: Partial<CompletedRequest> = {}): CompletedRequest {
  return {
    model: 'llama',
    replica: 'a',
    tenant: 'none',
    routingOutcome: 'no_key',
    endedAtMs: 1_000_000,
    success: true,
    errorType: null,
    latencyMs: 200,
    ttftMs: 50,
    decodeTokensPerSecond: 40,
    inputTokens: 100,
    cachedInputTokens: 0,
    outputTokens: 20,
    tokensEstimated: false,
    costNanos: 1_000n,
    ...overrides,
  };
}


/** Every number anywhere in a JSON-able value, with its path. */
export function numbersIn(value: unknown, path = '$'): Array<[string, number]> {
  if (typeof value === 'number') return [[path, value]];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => numbersIn(inner, `${path}.${key}`));
}
