import { describe, expect, it } from 'vitest';
import { tokenCostNanos, busyShareCostNanos } from '../../../src/cost/cost.js';
import { usageFromJsonTail } from '../../../src/proxy/body-usage.js';
import { classifyEvent } from '../../../src/streaming/sse-event.js';
import { usageFromReport } from '../../../src/streaming/usage-report.js';
import { measureRequest } from '../../../src/telemetry/measures.js';
import { createObservation } from '../../../src/lifecycle/observation.js';

/** Counts a replica may send that are not token counts. */
const NOT_COUNTS: unknown[] = [3.5, -1, 1e300, '12', Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, true, {}, [4]];

describe('usageFromReport', () => {
  it('reads chat and Responses API usage', () => {
    expect(usageFromReport({ prompt_tokens: 12, completion_tokens: 8, total_tokens: 20, prompt_tokens_details: { cached_tokens: 4 } })).toEqual({
      promptTokens: 12,
      completionTokens: 8,
      totalTokens: 20,
      cachedPromptTokens: 4,
    });
    expect(usageFromReport({ input_tokens: 7, output_tokens: 3, input_tokens_details: null })).toEqual({ promptTokens: 7, completionTokens: 3, totalTokens: 10, cachedPromptTokens: undefined });
    expect(usageFromReport({ prompt_tokens: 5, total_tokens: 5, completion_tokens: null })).toEqual({ promptTokens: 5, completionTokens: 0, totalTokens: 5, cachedPromptTokens: undefined });
  });

  it.each(NOT_COUNTS)('treats usage with a count of %s as missing, whichever count it is', (bad) => {
    expect(usageFromReport({ prompt_tokens: bad, completion_tokens: 2 })).toBeUndefined();
    expect(usageFromReport({ prompt_tokens: 2, completion_tokens: bad })).toBeUndefined();
    expect(usageFromReport({ prompt_tokens: 2, completion_tokens: 2, total_tokens: bad })).toBeUndefined();
    expect(usageFromReport({ prompt_tokens: 2, prompt_tokens_details: { cached_tokens: bad } })).toBeUndefined();
  });

  it('treats counts that add up past 2^53 as missing (the sum would no longer be exact)', () => {
    expect(usageFromReport({ prompt_tokens: Number.MAX_SAFE_INTEGER, completion_tokens: 1 })).toBeUndefined();
    expect(usageFromReport({ prompt_tokens: Number.MAX_SAFE_INTEGER - 1, completion_tokens: 1 })?.totalTokens).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('needs a prompt count, and clamps cached tokens to it', () => {
    expect(usageFromReport({ completion_tokens: 3 })).toBeUndefined();
    expect(usageFromReport({ prompt_tokens: 10, prompt_tokens_details: { cached_tokens: 64 } })?.cachedPromptTokens).toBe(10);
  });
});

describe('usage read from replica answers', () => {
  it('a JSON body whose usage is no count has no usage', () => {
    expect(usageFromJsonTail(Buffer.from('{"choices":[],"usage":{"prompt_tokens":3.5,"completion_tokens":2}}'))).toBeUndefined();
    expect(usageFromJsonTail(Buffer.from('{"choices":[],"usage":{"prompt_tokens":"12","completion_tokens":2}}'))).toBeUndefined();
  });

  it('a usage event whose counts are no counts is still the usage event, without usage', () => {
    const event = classifyEvent(Buffer.from('data: {"id":"c","choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":2,"total_tokens":1}}\n\n'));
    expect(event.kind).toBe('usage-only');
    expect(event.parsed?.usage).toBeUndefined();
  });

  it('makes the tokens of a 2xx answer estimated', () => {
    const observation = Object.assign(createObservation('r', 'POST', '/v1/chat/completions', 0), {
      status: 200,
      dispatchedAt: 1,
      completedAt: 2,
      requestJson: { messages: [{ role: 'user', content: 'x'.repeat(40) }] },
      bodyUsage: usageFromJsonTail(Buffer.from('{"usage":{"prompt_tokens":3.5,"completion_tokens":1e300}}')),
    });
    expect(measureRequest(observation).tokens).toEqual({ input: 10, cachedInput: 0, output: 0, source: 'estimated' });
  });
});

describe('cost arithmetic', () => {
  const price = { inputNanos: 1_000n, cachedInputNanos: 500n, outputNanos: 2_000n };

  it('never throws, whatever numbers reach it', () => {
    for (const value of [3.5, Number.NaN, Number.POSITIVE_INFINITY, -1, 1e300]) {
      expect(() => tokenCostNanos(price, { input: value, cachedInput: value, output: value })).not.toThrow();
      expect(() => busyShareCostNanos(value, 2.5)).not.toThrow();
    }
  });

  it('is exact for token counts', () => {
    expect(tokenCostNanos(price, { input: 10, cachedInput: 4, output: 3 })).toBe(6n * 1_000n + 4n * 500n + 3n * 2_000n);
  });
});
