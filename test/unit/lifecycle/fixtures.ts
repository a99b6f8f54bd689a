import { configSchema } from '../../../src/config/schema.js';
import { PriceBook } from '../../../src/cost/price-book.js';
import { createObservation, type RequestObservation } from '../../../src/lifecycle/observation.js';

/** Prices of model `m` on replica `r1`: 1 per million input tokens, 2 per million output tokens. */
export function pricesOfModelM(): PriceBook {
  return new PriceBook(
    configSchema.parse({ auth: { enabled: false }, replicas: [{ name: 'r1', url: 'http://127.0.0.1:9', models: ['m'] }], cost: { tokenPrices: { m: { input: 1, output: 2 } } } }).cost,
  );
}

/** A non-streamed chat request for `m` that `r1` answered 200 with usage (12 prompt, 5 completion tokens). */
export function finishedRequest(id: string): RequestObservation {
  return Object.assign(createObservation(id, 'POST', '/v1/chat/completions', 100), {
    requestedModel: 'm',
    replica: 'r1',
    status: 200,
    dispatchedAt: 101,
    completedAt: 150,
    bodyUsage: { promptTokens: 12, completionTokens: 5, totalTokens: 17, cachedPromptTokens: undefined },
  });
}
