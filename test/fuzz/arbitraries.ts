import fc from 'fast-check';
import { nestedArraysText, nestedObjectsText } from './harness.js';

/** Any JSON value of any type: what a client can put in any field. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1, 3.5, -0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, '', ' ', '\u0000', 'test-model', '[DONE]'),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.jsonValue({ maxDepth: 4 }),
);

/** Text that stresses estimates: CJK, emoji (surrogate pairs), ASCII. */
const promptText = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 60 }), fc.constantFrom('你好世界'.repeat(50), '🙂'.repeat(30)));

/** A content part, well-formed or not. */
const contentPart = fc.oneof(
  fc.record({ type: fc.constant('text'), text: promptText }),
  fc.record({ type: fc.constantFrom('image_url', 'input_text', 'text', 7), text: oddValue, image_url: oddValue }, { requiredKeys: ['type'] }),
  oddValue,
);

const content = fc.oneof(promptText, fc.array(contentPart, { maxLength: 5 }), oddValue);

const message = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'), content }),
  fc.record({ role: oddValue, content, name: oddValue, tool_calls: oddValue }, { requiredKeys: [] }),
  oddValue,
);

const streamOptions = fc.oneof(
  fc.constantFrom(null, false, true, 0, 'yes', [], {}),
  fc.record({ include_usage: oddValue, continuous_usage_stats: oddValue }, { requiredKeys: [] }),
  oddValue,
);

/** The fields the gateway reads, each either well-typed or any JSON value. */
const fields = {
  model: fc.oneof(fc.constant('test-model'), oddValue),
  stream: fc.oneof(fc.boolean(), oddValue),
  stream_options: streamOptions,
  max_tokens: fc.oneof(fc.integer({ min: 1, max: 64 }), oddValue),
  max_completion_tokens: fc.oneof(fc.integer({ min: 1, max: 64 }), oddValue),
  max_output_tokens: fc.oneof(fc.integer({ min: 1, max: 64 }), oddValue),
  n: fc.oneof(fc.integer({ min: 1, max: 3 }), oddValue),
  messages: fc.oneof(fc.array(message, { maxLength: 5 }), oddValue),
  prompt: fc.oneof(promptText, fc.array(fc.oneof(promptText, fc.integer({ min: 0, max: 50_000 })), { maxLength: 5 }), oddValue),
  input: fc.oneof(promptText, fc.array(fc.oneof(promptText, message), { maxLength: 5 }), oddValue),
  instructions: fc.oneof(promptText, oddValue),
  user: fc.oneof(promptText, oddValue),
  prompt_cache_key: fc.oneof(promptText, oddValue),
  temperature: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), oddValue),
  seed: fc.oneof(fc.integer({ min: 0, max: 1000 }), oddValue),
};

/** A request object whose every gateway-read field may be present, absent, or of any type. */
export const requestObject: fc.Arbitrary<Record<string, unknown>> = fc.record(fields, { requiredKeys: [] });

/**
 * A body with a deeply nested value where the estimates and the session key look. Kept as its
 * recipe so a failure prints `nested(depth=…)` rather than 200 KB of brackets.
 */
export class NestedBody {
  constructor(
    readonly depth: number,
    readonly shape: 'arrays' | 'objects',
    readonly field: 'input' | 'prompt' | 'messages' | 'content' | 'instructions',
    readonly stream: boolean,
  ) {}

  get text(): string {
    const nested = this.shape === 'arrays' ? nestedArraysText(this.depth) : nestedObjectsText(this.depth);
    const head = `{"model":"test-model","stream":${this.stream},`;
    if (this.field === 'content') return `${head}"messages":[{"role":"user","content":${nested}}]}`;
    if (this.field === 'messages') return `${head}"messages":${nested}}`;
    return `${head}"${this.field}":${nested}}`;
  }

  [fc.toStringMethod](): string {
    return `nested(depth=${this.depth}, ${this.shape}, in ${this.field}, stream=${this.stream})`;
  }
}

export const deepNesting: fc.Arbitrary<NestedBody> = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 100_000 }), fc.constant(100_000)),
    shape: fc.constantFrom('arrays' as const, 'objects' as const),
    field: fc.constantFrom('input' as const, 'prompt' as const, 'messages' as const, 'content' as const, 'instructions' as const),
    stream: fc.boolean(),
  })
  .map(({ depth, shape, field, stream }) => new NestedBody(depth, shape, field, stream));

/** The text of a body arbitrary's value. */
export function bodyText(body: string | NestedBody): string {
  return typeof body === 'string' ? body : body.text;
}

/** Raw body text: a serialised request object, a duplicated key, a deep nesting, or any bytes at all. */
export const requestBodyText: fc.Arbitrary<string | NestedBody> = fc.oneof(
  { weight: 6, arbitrary: requestObject.map((body) => JSON.stringify(body)) },
  // Duplicate keys: the last one wins at JSON.parse (and at vLLM's Python parser).
  {
    weight: 2,
    arbitrary: fc
      .tuple(requestObject, fc.constantFrom('stream_options', 'stream', 'model', 'max_tokens'), oddValue, oddValue)
      .map(([body, key, first, last]) => {
        const text = JSON.stringify(body);
        const inner = text.length > 2 ? `,${text.slice(1, -1)}` : '';
        return `{${JSON.stringify(key)}:${JSON.stringify(first)}${inner},${JSON.stringify(key)}:${JSON.stringify(last)}}`;
      }),
  },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);
