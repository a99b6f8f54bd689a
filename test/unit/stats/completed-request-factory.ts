import type { CompletedRequest } from '../../../src/telemetry/stats/completed-request.js';

/** A successful request with round numbers; override what a test is about. */
export function completedRequest(overrides: Partial<CompletedRequest> = {}): CompletedRequest {
  return {
    model: 'llama',
    replica: 'a',
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

/** A small deterministic generator (mulberry32), so a failing accuracy test can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every number anywhere in a JSON-able value, with its path. */
export function numbersIn(value: unknown, path = '$'): Array<[string, number]> {
  if (typeof value === 'number') return [[path, value]];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => numbersIn(inner, `${path}.${key}`));
}
