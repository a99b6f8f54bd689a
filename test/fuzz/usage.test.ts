import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { PriceBook } from '../../src/cost/price-book.js';
import { usageFromJsonTail, USAGE_TAIL_BYTES } from '../../src/proxy/body-usage.js';
import { classifyPayloadValue } from '../../src/streaming/sse-event.js';
import { createStreamFacts, type StreamUsage } from '../../src/streaming/stream-facts.js';
import { measureRequest } from '../../src/telemetry/measures.js';
import { createObservation } from '../../src/lifecycle/observation.js';
import { oddValue } from './arbitraries.js';
import { checkProperty, failOnEscapedErrors, fuzzTimeout } from './harness.js';

/**
 * Usage objects with arbitrary values, as a replica may send them, through every stage that reads
 * them: the SSE event reader, the JSON body tail reader, the measures and the price book. None
 * throws; every count is a non-negative safe integer or missing.
 */
failOnEscapedErrors();

const count = fc.oneof(
  { weight: 4, arbitrary: fc.nat(100_000) },
  { weight: 4, arbitrary: fc.constantFrom(3.5, -1, -0, 0.1, 1e21, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 1e308, -1e308, '12', '3.5', null, true, [], {}) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: oddValue },
);

const usageObject = fc.record(
  {
    prompt_tokens: count,
    completion_tokens: count,
    total_tokens: count,
    input_tokens: count,
    output_tokens: count,
    prompt_tokens_details: fc.oneof(fc.record({ cached_tokens: count }, { requiredKeys: [] }), oddValue),
    input_tokens_details: fc.oneof(fc.record({ cached_tokens: count }, { requiredKeys: [] }), oddValue),
  },
  { requiredKeys: [] },
);

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function expectValidUsage(usage: StreamUsage | undefined): void {
  if (usage === undefined) return;
  expect({ usage, counts: [usage.promptTokens, usage.completionTokens, usage.totalTokens].every(isCount) }).toEqual({ usage, counts: true });
  expect(usage.cachedPromptTokens === undefined || isCount(usage.cachedPromptTokens)).toBe(true);
}

const PRICED_MODEL = 'priced-model';
const priceBook = new PriceBook(
  parseConfig({
    replicas: [{ name: 'r0', url: 'http://127.0.0.1:9', models: [PRICED_MODEL] }],
    auth: { enabled: false },
    cost: { tokenPrices: { [PRICED_MODEL]: { input: 1.5, cachedInput: 0.25, output: 6 } }, replicaHourly: { r0: 2.5 } },
  }).cost,
);

/** The tokens and cost the telemetry stage derives from a replica's usage. */
function measureAndPrice(bodyUsage: StreamUsage | undefined, streamUsage: StreamUsage | undefined): void {
  const observation = createObservation('fuzz', 'POST', '/v1/chat/completions', 0);
  observation.status = 200;
  observation.dispatchedAt = 1;
  observation.completedAt = 2;
  observation.requestJson = { model: PRICED_MODEL, messages: [{ role: 'user', content: 'hello there' }] };
  observation.bodyUsage = bodyUsage;
  if (streamUsage !== undefined) {
    const facts = createStreamFacts();
    Object.assign(facts, { firstContentAt: 1, lastContentAt: 2, contentEvents: 2, chunkGapsMs: [1], finishReasons: ['stop'], usage: streamUsage, done: true });
    observation.streamFacts = facts;
  }
  const { tokens } = measureRequest(observation);
  expect([tokens.input, tokens.cachedInput, tokens.output].every(isCount)).toBe(true);
  for (const model of [PRICED_MODEL, 'unpriced-model']) {
    const cost = priceBook.costOf(model, 'r0', tokens, 12.5);
    expect(cost.nanos >= 0n).toBe(true);
  }
}

describe('usage objects with arbitrary values', () => {
  it('reads usage from a stream event, measures and prices it without throwing; counts are valid or missing', { timeout: fuzzTimeout(1) }, () => {
    checkProperty(
      'usage-stream-event',
      fc.property(usageObject, fc.boolean(), (usage, usageOnly) => {
        const parsed = classifyPayloadValue({ id: 'chatcmpl-1', model: PRICED_MODEL, choices: usageOnly ? [] : [{ index: 0, delta: { content: 'x' } }], usage });
        expectValidUsage(parsed.usage);
        measureAndPrice(undefined, parsed.usage);
      }),
    );
  });

  it('reads usage from a JSON body tail, measures and prices it without throwing; counts are valid or missing', { timeout: fuzzTimeout(1) }, () => {
    checkProperty(
      'usage-json-body',
      fc.property(usageObject, fc.string({ maxLength: 200 }), fc.nat(USAGE_TAIL_BYTES), (usage, padding, cut) => {
        const body = Buffer.from(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', choices: [{ message: { content: padding } }], usage }));
        // The tail the proxy keeps: the last USAGE_TAIL_BYTES bytes, or fewer when the body was cut short.
        const tail = body.subarray(Math.max(0, body.length - USAGE_TAIL_BYTES), Math.max(0, body.length - (cut % 3 === 0 ? cut % 40 : 0)));
        const parsed = usageFromJsonTail(tail);
        expectValidUsage(parsed);
        measureAndPrice(parsed, undefined);
      }),
    );
  });
});
