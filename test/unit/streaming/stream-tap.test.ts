import { readdirSync } from 'node:fs';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { StreamFramer } from '../../../src/sim/frames.js';
import type { StreamFacts } from '../../../src/streaming/stream-facts.js';
import { StreamTap } from '../../../src/streaming/stream-tap.js';
import { byteChunks, eventChunks, loadFixture, randomChunks, runTap, splitAt, withoutUsageEvent } from './tap-harness.js';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

interface Expected {
  facts: Partial<StreamFacts>;
  /** The fixture holds a usage-only event for stripping to remove. */
  usageEvent: boolean;
}

/** What each transcript must yield, fed whole with now = 0 (times are checked separately). */
const FIXTURES: Record<string, Expected> = {
  'chat-basic.sse': {
    usageEvent: false,
    facts: { contentEvents: 7, finishReasons: ['stop'], usage: undefined, error: undefined, done: true, responseId: 'chatcmpl-8f2c1e9a4b7d4e0f9a1b2c3d4e5f6a7b' },
  },
  'chat-include-usage.sse': {
    usageEvent: true,
    facts: {
      contentEvents: 7,
      finishReasons: ['stop'],
      usage: { promptTokens: 42, completionTokens: 7, totalTokens: 49, cachedPromptTokens: 32 },
      done: true,
      responseId: 'chatcmpl-2b4d6f8a0c1e3a5b7d9f1b3d5f7a9c1e',
    },
  },
  'chat-continuous-usage.sse': {
    usageEvent: true,
    facts: { contentEvents: 5, finishReasons: ['stop'], usage: { promptTokens: 17, completionTokens: 5, totalTokens: 22, cachedPromptTokens: undefined }, done: true },
  },
  'completions-usage.sse': {
    usageEvent: true,
    facts: {
      contentEvents: 7,
      finishReasons: ['length'],
      usage: { promptTokens: 4, completionTokens: 7, totalTokens: 11, cachedPromptTokens: undefined },
      done: true,
      responseId: 'cmpl-4d6f8a0c2e4a6c8e0a2c4e6a8c0e2a4c',
    },
  },
  'chat-tool-calls.sse': {
    usageEvent: true,
    facts: { contentEvents: 6, finishReasons: ['tool_calls'], usage: { promptTokens: 180, completionTokens: 24, totalTokens: 204, cachedPromptTokens: undefined }, done: true },
  },
  'chat-reasoning.sse': { usageEvent: false, facts: { contentEvents: 10, finishReasons: ['stop'], usage: undefined, done: true } },
  'chat-n2.sse': {
    usageEvent: true,
    facts: { contentEvents: 5, finishReasons: ['stop', 'length'], usage: { promptTokens: 9, completionTokens: 6, totalTokens: 15, cachedPromptTokens: undefined }, done: true },
  },
  'chat-inband-error.sse': {
    usageEvent: false,
    facts: {
      contentEvents: 3,
      finishReasons: [],
      error: { message: 'The engine died unexpectedly.', type: 'InternalServerError', code: 500 },
      done: true,
    },
  },
  'chat-truncated.sse': { usageEvent: false, facts: { contentEvents: 3, finishReasons: [], usage: undefined, error: undefined, done: false } },
  'chat-crlf.sse': {
    usageEvent: true,
    facts: { contentEvents: 4, finishReasons: ['stop'], usage: { promptTokens: 11, completionTokens: 4, totalTokens: 15, cachedPromptTokens: undefined }, done: true },
  },
  'chat-keepalive.sse': {
    usageEvent: true,
    facts: { contentEvents: 2, finishReasons: ['stop'], usage: { promptTokens: 5, completionTokens: 2, totalTokens: 7, cachedPromptTokens: undefined }, done: true },
  },
  'multiline-mixed-endings.sse': {
    usageEvent: true,
    facts: { contentEvents: 3, finishReasons: ['stop'], usage: { promptTokens: 3, completionTokens: 3, totalTokens: 6, cachedPromptTokens: undefined }, done: true },
  },
};

function everySplit(input: Buffer): Buffer[][] {
  const splits: Buffer[][] = [];
  for (let at = 0; at <= input.length; at++) splits.push(splitAt(input, at));
  return splits;
}

/** Whole, every single cut, byte by byte, whole events one to three per chunk, and 40 seeded random chunkings of small and larger pieces. */
function chunkings(input: Buffer): Buffer[][] {
  const all = [[input], ...everySplit(input), byteChunks(input)];
  for (const [perChunk, first] of [[1, 1], [2, 2], [2, 1], [3, 3], [3, 2]] as const) all.push(eventChunks(input, perChunk, first));
  for (let seed = 1; seed <= 20; seed++) all.push(randomChunks(input, seed, 9), randomChunks(input, 1000 + seed, 400));
  return all;
}

it('has an expectation for every fixture file', () => {
  expect(readdirSync(new URL('../../fixtures/sse/', import.meta.url)).sort()).toEqual(Object.keys(FIXTURES).sort());
});

describe.each(Object.entries(FIXTURES))('%s', (name, expected) => {
  const input = loadFixture(name);
  const stripped = withoutUsageEvent(input);

  it('yields the expected facts', () => {
    const { facts } = runTap([input], { stripUsageEvent: false });
    expect(facts).toMatchObject(expected.facts);
    expect(facts.firstContentAt).toBe(0);
    expect(facts.chunkGapsMs).toEqual(new Array(facts.contentEvents - 1).fill(0));
    expect(facts.responseModel).toBe(MODEL);
    expect(stripped.length < input.length).toBe(expected.usageEvent);
  });

  it('forwards every byte untouched and learns the same facts however the stream is cut', () => {
    const whole = runTap([input], { stripUsageEvent: false }).facts;
    for (const chunks of chunkings(input)) {
      const run = runTap(chunks, { stripUsageEvent: false });
      run.returned.slice(0, -1).forEach((out, index) => expect(out).toBe(chunks[index]));
      expect(run.returned.at(-1)!.length).toBe(0);
      expect(run.facts).toEqual(whole);
    }
  });

  it('with stripping, forwards exactly the input minus the usage-only event however the stream is cut', () => {
    const whole = runTap([input], { stripUsageEvent: false }).facts;
    for (const chunks of chunkings(input)) {
      const run = runTap(chunks, { stripUsageEvent: true });
      expect(run.output.equals(stripped), `cut into ${chunks.map((c) => c.length).join(',')}`).toBe(true);
      expect(run.facts).toEqual(whole);
    }
  });
});

describe('timing', () => {
  const events = loadFixture('chat-basic.sse').toString('latin1').split(/(?<=\n\n)/).map((event) => Buffer.from(event, 'latin1'));

  it('times content events by the chunk that completes them; two in one chunk are 0 ms apart', () => {
    // events: role, 7 content, empty finish, [DONE]
    const [role, c1, c2, c3, c4, c5, c6, c7, finish, done] = events as [Buffer, ...Buffer[]];
    const chunks = [
      role,
      c1!.subarray(0, 50), // first content event starts at 110 …
      Buffer.concat([c1!.subarray(50), c2!]), // … and completes at 125, with the second
      c3!,
      Buffer.concat([c4!, c5!.subarray(0, 1)]),
      Buffer.concat([c5!.subarray(1), c6!, c7!.subarray(0, c7!.length - 1)]),
      Buffer.concat([c7!.subarray(c7!.length - 1), finish!, done!]),
    ];
    const times = [100, 110, 125, 160, 170, 200, 230];
    const tap = new StreamTap({ stripUsageEvent: false });
    chunks.forEach((chunk, index) => tap.process(chunk, times[index]!));
    expect(tap.facts).toMatchObject({ firstContentAt: 125, lastContentAt: 230, contentEvents: 7, chunkGapsMs: [0, 35, 10, 30, 0, 30], done: true });
  });

  it('keeps firstContentAt undefined when no content arrives', () => {
    const tap = new StreamTap({ stripUsageEvent: false });
    tap.process(Buffer.concat([events[0]!, events.at(-1)!]), 5);
    expect(tap.facts).toMatchObject({ firstContentAt: undefined, lastContentAt: undefined, contentEvents: 0, chunkGapsMs: [], done: true });
  });
});

describe('cost', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function chatStream(contentChunks: number, continuousUsage: boolean): Buffer[] {
    const framer = new StreamFramer('chat', { id: 'chatcmpl-bench', created: 1, model: MODEL }, 1, continuousUsage);
    const usage = (completionTokens: number) => ({ promptTokens: 20, completionTokens, cachedTokens: null });
    const frames = [framer.roleChunk(0, usage(0))!];
    for (let i = 0; i < contentChunks - 1; i++) frames.push(framer.content(0, ` tok${i}`, usage(i + 1)));
    frames.push(framer.final(0, '.', 'stop', usage(contentChunks)), framer.usage(usage(contentChunks)), 'data: [DONE]\n\n');
    return frames.map((frame) => Buffer.from(frame));
  }

  it('parses only the events no template recognises: the role chunk, the first content event, the finish event and the usage event', () => {
    const chunks = chatStream(64, false);
    const parse = vi.spyOn(JSON, 'parse');
    const run = runTap(chunks, { stripUsageEvent: true });
    const calls = parse.mock.calls.length;
    vi.restoreAllMocks();
    expect(run.facts).toMatchObject({ contentEvents: 64, finishReasons: ['stop'], usage: { completionTokens: 64 }, done: true });
    expect(calls).toBe(4); // role chunk, first content (which becomes the template of the 63 others), finish, usage
  });

  it('parses usage-bearing events with continuous_usage_stats (the latest usage is recorded)', () => {
    const chunks = chatStream(16, true);
    const parse = vi.spyOn(JSON, 'parse');
    const run = runTap(chunks.slice(0, -2), { stripUsageEvent: false }); // no usage-only event: truncated
    const calls = parse.mock.calls.length;
    vi.restoreAllMocks();
    expect(calls).toBe(16 + 1);
    expect(run.facts.usage).toMatchObject({ completionTokens: 16 });
  });

  it('returns the chunk itself when stripping removes and holds nothing, and an empty buffer when it holds everything', () => {
    const chunks = chatStream(4, false);
    const tap = new StreamTap({ stripUsageEvent: true });
    for (const chunk of chunks.slice(0, 5)) expect(tap.process(chunk, 0)).toBe(chunk);
    const usageEvent = chunks[5]!;
    expect(tap.process(usageEvent.subarray(0, 10), 0).length).toBe(0);
    expect(tap.process(usageEvent.subarray(10), 0).length).toBe(0);
    expect(tap.process(chunks[6]!, 0)).toBe(chunks[6]);
    expect(tap.finish().length).toBe(0);
  });

  it('cuts the usage event out of the middle of a chunk, then returns the next chunk itself again', () => {
    const chunks = chatStream(4, false);
    const tap = new StreamTap({ stripUsageEvent: true });
    for (const chunk of chunks.slice(0, 4)) expect(tap.process(chunk, 0)).toBe(chunk);
    // final content + usage + [DONE] in one chunk: two kept ranges around the cut.
    const tail = Buffer.concat(chunks.slice(4));
    expect(tap.process(tail, 0).toString()).toBe(Buffer.concat([chunks[4]!, chunks[6]!]).toString());
    const comment = Buffer.from(': after\n\n');
    expect(tap.process(comment, 0)).toBe(comment);
    // Only the usage event with a held head: the head is not forwarded, what follows it is.
    const next = new StreamTap({ stripUsageEvent: true });
    for (const chunk of chunks.slice(0, 5)) next.process(chunk, 0);
    expect(next.process(chunks[5]!.subarray(0, 7), 0).length).toBe(0);
    const rest = Buffer.concat([chunks[5]!.subarray(7), chunks[6]!]);
    expect(next.process(rest, 0).toString()).toBe(chunks[6]!.toString());
  });
});

describe('robustness and bounds', () => {
  const role = loadFixture('chat-basic.sse').toString('latin1').split(/(?<=\n\n)/)[0]!;
  const content = (text: string) =>
    `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${text}"},"logprobs":null,"finish_reason":null}]}\n\n`;

  it('treats invalid JSON as non-content before and after the first content, without throwing', () => {
    const stream = [role, 'data: {oops\n\n', content('a'), 'data: {"choices":[{"delta":{"content":"b"\n\n', 'data: not json at all\n\n', content('c'), 'data: [DONE]\n\n'];
    const input = Buffer.from(stream.join(''));
    for (const chunks of [[input], byteChunks(input)]) {
      const run = runTap(chunks, { stripUsageEvent: true });
      expect(run.facts).toMatchObject({ contentEvents: 2, done: true });
      expect(run.output.equals(input)).toBe(true);
    }
  });

  it('forwards an event larger than the hold bound as it arrives, unclassified, and resumes holding and stripping after it', () => {
    const input = Buffer.concat([
      // Two oversized events: one outgrows the bound while held, the other (just over it) often only when it completes.
      Buffer.from(role + content('a') + content('x'.repeat(5000)) + content('y'.repeat(900)) + content('b')),
      loadFixture('chat-include-usage.sse').subarray(-400), // …the usage-only event and [DONE]
    ]);
    const expected = withoutUsageEvent(input);
    expect(expected.length).toBeLessThan(input.length);
    for (let seed = 1; seed <= 60; seed++) {
      const chunks = randomChunks(input, seed, 300);
      const tap = new StreamTap({ stripUsageEvent: true, maxHeldEventBytes: 1024 });
      const out: Buffer[] = [];
      for (const chunk of chunks) {
        out.push(tap.process(chunk, 0));
        expect((tap as unknown as { held: Buffer }).held.length).toBeLessThanOrEqual(1024);
      }
      out.push(tap.finish());
      expect(Buffer.concat(out).equals(expected)).toBe(true);
      expect(tap.facts).toMatchObject({ contentEvents: 2, usage: { promptTokens: 42 }, done: true });
    }
    // Arriving whole in one chunk it needs no holding, so it is classified.
    expect(runTap([input], { stripUsageEvent: true, maxHeldEventBytes: 1024 }).facts.contentEvents).toBe(4);
  });

  it('forwards a truncated last event on finish() when stripping, and does not count it', () => {
    const input = Buffer.from(role + content('a') + content('b').slice(0, 40));
    const tap = new StreamTap({ stripUsageEvent: true });
    const head = tap.process(input, 0);
    const tail = tap.finish();
    expect(Buffer.concat([head, tail]).equals(input)).toBe(true);
    expect(tail.length).toBe(40);
    expect(tap.facts).toMatchObject({ contentEvents: 1, done: false });
  });
});
