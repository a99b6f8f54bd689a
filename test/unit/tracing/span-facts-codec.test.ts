import { describe, expect, it } from 'vitest';
import { FactsReader, FactsWriter, readChunk, readRequestSpanFacts, spanCountOf, writeRequestSpanFacts } from '../../../src/telemetry/tracing/span-facts-codec.js';
import type { RequestSpanFacts } from '../../../src/telemetry/tracing/request-span-facts.js';
import { EVERYTHING, NOTHING_OPTIONAL } from './span-facts-fixtures.js';

describe('request span facts as numbers and chars', () => {
  it('read back exactly as written, every field and every kind of string, several requests in one chunk in order', () => {
    const writer = new FactsWriter();
    const written = [EVERYTHING, NOTHING_OPTIONAL, { ...EVERYTHING, requestId: 'req-third', samplerAttributes: {} }];
    for (const facts of written) writeRequestSpanFacts(writer, facts);
    expect(writer.records).toBe(3);
    expect(writer.spans).toBe(4 + 1 + 4);
    const chunk = writer.take();
    expect(chunk.records).toBe(3);
    expect(chunk.spans).toBe(9);
    const read = readChunk(chunk);
    // The sampler's null array item reads back as undefined (both mean "no value" to OpenTelemetry).
    const expected = written.map((facts) =>
      facts.samplerAttributes?.['sampler.mixed'] === undefined ? facts : { ...facts, samplerAttributes: { ...facts.samplerAttributes, 'sampler.mixed': [1, undefined, 3] } },
    );
    expect(read).toEqual(expected);
    expect(read[0]!.inputMessages).toBe(EVERYTHING.inputMessages);
    expect(read[0]!.outputMessages).toHaveLength(10_000);
  });

  it('write each repeating string (a word) once per chunk while it stays the same, and read it back every time', () => {
    const single: RequestSpanFacts = { ...EVERYTHING, samplerAttributes: undefined, finishReasons: ['stop'], attempts: [EVERYTHING.attempts[1]!] };
    const words = [
      single.method,
      single.route,
      single.outcome,
      single.errorType,
      single.keyId,
      single.tenant,
      single.routingOutcome,
      single.sessionKeySource,
      single.rateLimit?.outcome,
      single.rateLimit?.limitedBy,
      single.rateLimit?.store,
      single.requestedModel,
      single.responseModel,
      'stop',
      single.attempts[0]!.replica,
      single.attempts[0]!.address,
    ];
    const wordChars = words.reduce((sum, word) => sum + (word?.length ?? 0), 0);

    const writer = new FactsWriter();
    writeRequestSpanFacts(writer, single);
    const one = writer.take();
    // The model as the gateway has it: equal to the last one, but a string of its own.
    const again = { ...single, requestId: 'req-second', requestedModel: JSON.parse('"llama-3-8b"') as string };
    writeRequestSpanFacts(writer, single);
    writeRequestSpanFacts(writer, again);
    const two = writer.take();
    expect(two.charCount - one.charCount).toBe(one.charCount - wordChars + again.requestId.length - single.requestId.length);
    expect(readChunk(two)).toEqual([single, again]);

    // A new chunk starts with no words: it reads on its own.
    writeRequestSpanFacts(writer, single);
    expect(writer.take().charCount).toBe(one.charCount);
  });

  it('refuse a repeated word whose slot was never written in the chunk', () => {
    const reader = new FactsReader({ numbers: Float64Array.of(-2), chars: new Uint16Array(0), numberCount: 1, charCount: 0 });
    expect(() => reader.word(0 as Parameters<FactsReader['word']>[0])).toThrow(/repeated word was never written/);
  });

  it('counts the spans a request makes: SERVER, the rate-limit child, one per attempt', () => {
    expect(spanCountOf(EVERYTHING)).toBe(4);
    expect(spanCountOf(NOTHING_OPTIONAL)).toBe(1);
  });

  it('start each chunk empty, grow past their initial arrays, and reuse only arrays of the initial size', () => {
    const writer = new FactsWriter();
    const long = { ...EVERYTHING, outputMessages: 'z'.repeat(100_000) };
    writeRequestSpanFacts(writer, long);
    expect(writer.nearlyFull).toBe(true);
    const grown = writer.take();
    expect(grown.chars.length).toBeGreaterThan(100_000);
    expect(readChunk(grown)).toHaveLength(1);

    writeRequestSpanFacts(writer, NOTHING_OPTIONAL);
    expect(writer.nearlyFull).toBe(false);
    const small = writer.take();
    expect(readChunk(small)).toEqual([NOTHING_OPTIONAL]);

    // A grown pair offered last would be taken first: it must be refused, so the small pair comes next.
    writer.reuse(small.numbers, small.chars);
    writer.reuse(grown.numbers, grown.chars);
    writeRequestSpanFacts(writer, NOTHING_OPTIONAL);
    const next = writer.take();
    expect(readChunk(next)).toEqual([NOTHING_OPTIONAL]);
    writeRequestSpanFacts(writer, EVERYTHING);
    expect(writer.take().chars).toBe(small.chars);
  });

  it('refuse a chunk that ends early instead of inventing fields', () => {
    const writer = new FactsWriter();
    writeRequestSpanFacts(writer, EVERYTHING);
    const chunk = writer.take();
    expect(() => readRequestSpanFacts(new FactsReader({ ...chunk, numberCount: chunk.numberCount - 3 }))).toThrow(RangeError);
    expect(() => readRequestSpanFacts(new FactsReader({ ...chunk, charCount: 10 }))).toThrow(RangeError);
  });
});
