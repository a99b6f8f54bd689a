import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamTap } from '../../src/streaming/stream-tap.js';
import { oddValue } from './arbitraries.js';
import { checkProperty, failOnEscapedErrors, fuzzTimeout } from './harness.js';

/**
 * SSE transcripts as a replica may send them, cut at arbitrary bytes: the tap forwards every
 * byte in order (minus the usage-only event it was asked to strip), and what it learns does not
 * depend on where the cuts fall.
 */
failOnEscapedErrors();

interface TranscriptEvent {
  readonly text: string;
  /** The `"choices":[]` + usage event the gateway asked for (the tap strips it when told to). */
  readonly usageOnly: boolean;
}

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('你好', '🙂', '\n\n', 'data: x', '\r\n'));
const lineEnd = fc.constantFrom('\n', '\r\n');
const usage = fc.oneof(
  fc.record({ prompt_tokens: fc.nat(5000), completion_tokens: fc.nat(5000), total_tokens: fc.nat(10000) }),
  fc.record({ prompt_tokens: oddValue, completion_tokens: oddValue, total_tokens: oddValue, prompt_tokens_details: oddValue }, { requiredKeys: [] }),
);

function chunk(choices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'chatcmpl-fuzz', object: 'chat.completion.chunk', created: 1, model: 'test-model', choices, ...extra };
}

const payload: fc.Arbitrary<{ data: string; usageOnly: boolean }> = fc.oneof(
  { weight: 8, arbitrary: text.map((content) => ({ data: JSON.stringify(chunk([{ index: 0, delta: { content }, finish_reason: null }])), usageOnly: false })) },
  { weight: 2, arbitrary: fc.constant({ data: JSON.stringify(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])), usageOnly: false }) },
  {
    weight: 2,
    arbitrary: fc.tuple(text, fc.nat(3), fc.constantFrom(null, 'stop', 'length')).map(([content, index, finish]) => ({
      data: JSON.stringify(chunk([{ index, delta: { reasoning_content: content }, finish_reason: finish }])),
      usageOnly: false,
    })),
  },
  { weight: 2, arbitrary: text.map((completion) => ({ data: JSON.stringify({ id: 'cmpl-fuzz', object: 'text_completion', choices: [{ index: 0, text: completion, finish_reason: null }] }), usageOnly: false })) },
  { weight: 1, arbitrary: fc.constant({ data: JSON.stringify(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }])), usageOnly: false }) },
  { weight: 2, arbitrary: usage.map((value) => ({ data: JSON.stringify(chunk([], { usage: value })), usageOnly: true })) },
  { weight: 1, arbitrary: usage.map((value) => ({ data: JSON.stringify(chunk([{ index: 0, delta: { content: 'x' }, finish_reason: null }], { usage: value })), usageOnly: false })) },
  { weight: 1, arbitrary: oddValue.map((error) => ({ data: JSON.stringify({ error }), usageOnly: false })) },
  { weight: 1, arbitrary: fc.constant({ data: '[DONE]', usageOnly: false }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((junk) => ({ data: junk.replace(/[\r\n]/g, ' '), usageOnly: false })) },
);

const event: fc.Arbitrary<TranscriptEvent> = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(payload, lineEnd, fc.boolean()).map(([{ data, usageOnly }, eol, space]) => ({ text: `data:${space ? ' ' : ''}${data}${eol}${eol}`, usageOnly })) },
  // A keep-alive comment, a named event, a payload spread over two data lines.
  { weight: 1, arbitrary: lineEnd.map((eol) => ({ text: `: keep-alive${eol}${eol}`, usageOnly: false })) },
  { weight: 1, arbitrary: fc.tuple(payload, lineEnd).map(([{ data, usageOnly }, eol]) => ({ text: `event: message${eol}data: ${data}${eol}${eol}`, usageOnly })) },
  {
    weight: 1,
    arbitrary: fc.tuple(payload, lineEnd).map(([{ data, usageOnly }, eol]) => {
      // The parts join with a newline, which JSON reads as whitespace: cut where it is (not inside a string).
      const half = data.indexOf(',');
      if (half < 0) return { text: `data: ${data}${eol}${eol}`, usageOnly };
      return { text: `data: ${data.slice(0, half)}${eol}data: ${data.slice(half)}${eol}${eol}`, usageOnly };
    }),
  },
);

/** A transcript (events, then maybe a truncated last event) and the byte offsets it is cut at. */
const transcript = fc
  .tuple(fc.array(event, { maxLength: 30 }), fc.option(fc.string({ maxLength: 20 }).map((tail) => `data: ${tail}`), { nil: undefined }))
  .chain(([events, truncated]) => {
    const all = Buffer.from(events.map((one) => one.text).join('') + (truncated ?? ''));
    return fc.record({
      events: fc.constant(events),
      truncated: fc.constant(truncated),
      cuts: fc.uniqueArray(fc.integer({ min: 0, max: all.length }), { maxLength: 40 }).map((offsets) => offsets.sort((a, b) => a - b)),
    });
  });

function run(bytes: Buffer, cuts: readonly number[], strip: boolean, maxHeldEventBytes?: number): { out: Buffer; facts: StreamTap['facts'] } {
  const tap = new StreamTap({ stripUsageEvent: strip, ...(maxHeldEventBytes === undefined ? {} : { maxHeldEventBytes }) });
  const forwarded: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    // Copies, so a tap that kept a reference to an earlier chunk cannot see it change.
    forwarded.push(Buffer.from(tap.process(Buffer.from(bytes.subarray(from, cut)), 0)));
    from = cut;
  }
  forwarded.push(Buffer.from(tap.finish()));
  return { out: Buffer.concat(forwarded), facts: tap.facts };
}

describe('stream tap over SSE transcripts cut at arbitrary bytes', () => {
  it('forwards every byte in order, minus the usage-only event when asked, with the same facts however it is cut', { timeout: fuzzTimeout(3) }, () => {
    checkProperty(
      'stream-tap',
      fc.property(transcript, fc.boolean(), ({ events, truncated, cuts }, strip) => {
        const bytes = Buffer.from(events.map((one) => one.text).join('') + (truncated ?? ''));
        const expected = strip ? Buffer.from(events.filter((one) => !one.usageOnly).map((one) => one.text).join('') + (truncated ?? '')) : bytes;
        const whole = run(bytes, [], strip);
        const cut = run(bytes, cuts, strip);
        expect(cut.out.toString('latin1')).toBe(expected.toString('latin1'));
        expect(whole.out.toString('latin1')).toBe(expected.toString('latin1'));
        expect(cut.facts).toEqual(whole.facts);
      }),
    );
  });

  it('with a small bound on held events, still forwards every byte in order, cutting out nothing but usage-only events', { timeout: fuzzTimeout(3) }, () => {
    checkProperty(
      'stream-tap-oversized',
      fc.property(transcript, fc.boolean(), fc.integer({ min: 1, max: 256 }), ({ events, truncated, cuts }, strip, maxHeld) => {
        const bytes = Buffer.from(events.map((one) => one.text).join('') + (truncated ?? ''));
        const out = run(bytes, cuts, strip, maxHeld).out.toString('latin1');
        if (!strip) {
          expect(out).toBe(bytes.toString('latin1'));
          return;
        }
        // An event that outgrew the bound is forwarded unclassified: each usage-only event may be there or not, nothing else may be missing.
        let at = 0;
        for (const one of events) {
          const text = Buffer.from(one.text).toString('latin1');
          if (out.startsWith(text, at)) at += text.length;
          else expect(one.usageOnly, `missing at byte ${at}: ${JSON.stringify(one.text)}`).toBe(true);
        }
        expect(out.slice(at)).toBe(Buffer.from(truncated ?? '').toString('latin1'));
      }),
    );
  });
});
