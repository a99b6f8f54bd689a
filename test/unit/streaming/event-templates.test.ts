import { readdirSync } from 'node:fs';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { classifyEvent, createDataLocation, locateData } from '../../../src/streaming/sse-event.js';
import { closingQuote, EventTemplates, lastString } from '../../../src/streaming/event-templates.js';
import { SseSplitter } from '../../../src/streaming/sse-splitter.js';
import { byteChunks, eventChunks, loadFixture, runTap, splitEvents, withoutUsageEvent } from './tap-harness.js';

const HEAD = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"';
const TAIL = '"},"logprobs":null,"finish_reason":null,"token_ids":null}]}';
const ROLE = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"prompt_token_ids":null}\n\n`;
const FINISH = `data: ${HEAD}."},"logprobs":null,"finish_reason":"stop","stop_reason":null,"token_ids":null}]}\n\n`;
const USAGE = 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"total_tokens":7,"completion_tokens":4}}\n\n';
const DONE = 'data: [DONE]\n\n';

/** A content event; `text` is written into the JSON as it is (escape it yourself). */
function content(text: string, head = HEAD, tail = TAIL, end = '\n\n'): string {
  return `data: ${head}${text}${tail}${end}`;
}

/** What a parse of every complete event says: content events, finish reasons, usage, [DONE]. */
function parsedFacts(input: Buffer) {
  let contentEvents = 0;
  let contentCharacters = 0;
  let done = false;
  const finishReasons: string[] = [];
  let usage: unknown;
  for (const event of splitEvents(input)) {
    if (!/(\r\n|\r|\n)(\r\n|\r|\n)$/.test(event.toString('latin1'))) continue; // truncated: an SSE client drops it
    const { kind, parsed } = classifyEvent(event);
    if (kind === 'content') contentEvents++;
    if (kind === 'content') contentCharacters += parsed!.contentCharacters;
    if (kind === 'done') done = true;
    finishReasons.push(...(parsed?.finishReasons ?? []));
    if (parsed?.usage !== undefined) usage = parsed.usage;
  }
  return { contentEvents, contentCharacters, finishReasons, usage, done };
}

/** The stream fed as vLLM writes it (one event per chunk), two and three per chunk, and byte by byte (never the shortcut). */
function expectExact(stream: string, expected = parsedFacts(Buffer.from(stream))): void {
  const input = Buffer.from(stream);
  const stripped = withoutUsageEvent(input);
  const reference = runTap(byteChunks(input), { stripUsageEvent: false }).facts;
  expect(reference).toMatchObject(expected);
  for (const chunks of [eventChunks(input, 1), eventChunks(input, 2), eventChunks(input, 2, 1), eventChunks(input, 3, 2)]) {
    expect(Buffer.concat(chunks).equals(input)).toBe(true);
    const untouched = runTap(chunks, { stripUsageEvent: false });
    untouched.returned.slice(0, -1).forEach((out, index) => expect(out).toBe(chunks[index]));
    expect(untouched.facts).toEqual(reference);
    const stripping = runTap(chunks, { stripUsageEvent: true });
    expect(stripping.output.equals(stripped)).toBe(true);
    expect(stripping.facts).toEqual(reference);
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('closingQuote', () => {
  const at = (text: string, limit = text.length) => closingQuote(Buffer.from(text), 0, limit);

  it('finds the quote that closes the string, stepping over escapes', () => {
    expect(at('abc"rest')).toBe(3);
    expect(at('a\\"b\\\\"x')).toBe(6);
    expect(at('\\u00e9\\n\\t\\/"')).toBe(12);
    expect(at('"')).toBe(0);
  });

  it('rejects what is not JSON string text, and a quote at or past the limit', () => {
    expect(at('ab\ncd"')).toBe(-1);
    expect(at('ab\rcd"')).toBe(-1);
    expect(at('ab\tcd"')).toBe(-1);
    expect(at('a\\xb"')).toBe(-1);
    expect(at('a\\u00g9"')).toBe(-1);
    expect(at('a\\u00"')).toBe(-1);
    expect(at('abc"', 3)).toBe(-1);
    expect(at('ab\\"', 4)).toBe(-1);
  });
});

describe('EventTemplates', () => {
  const learned = (event: string) => {
    const templates = new EventTemplates();
    const buf = Buffer.from(event);
    const payload = buf.indexOf('{');
    templates.learn(buf, 0, buf.length, payload, buf.lastIndexOf('}') + 1);
    return templates;
  };

  it('recognises chunks made only of whole events of the template, with any valid text', () => {
    const templates = learned(content('Hello'));
    expect(templates.count).toBe(1);
    expect(templates.wholeEvents(Buffer.from(content(' world')))).toBe(1);
    expect(templates.wholeEvents(Buffer.from(content('\\"finish_reason\\":\\"stop\\" data: x')))).toBe(1);
    expect(templates.wholeEvents(Buffer.from(content('a') + content('\\u00e9') + content('c')))).toBe(3);
    expect(templates.wholeEvents(Buffer.from(content('x'.repeat(4_000))))).toBe(1);
  });

  it('recognises one event the splitter found, anywhere in a buffer, counting its text', () => {
    const templates = learned(content('Hello'));
    const buf = Buffer.from(`${DONE}${content('caf\\u00e9')}${DONE}`);
    const start = DONE.length;
    const end = buf.length - DONE.length;
    expect(templates.matchEvent(buf, start, end)).toBe(true);
    expect(templates.textCharacters).toBe(4);
    expect(templates.matchEvent(buf, start, end - 1)).toBe(false);
    expect(templates.matchEvent(buf, start, buf.length)).toBe(false);
    expect(templates.matchEvent(Buffer.from(content('')), 0, content('').length)).toBe(false);
  });

  it('rejects anything else', () => {
    const templates = learned(content('Hello'));
    for (const chunk of [
      content(''), // empty content: not content
      content('a').slice(0, -1), // no blank line yet
      content('a') + content('b').slice(0, 20), // a second event begins
      content('a') + DONE,
      content('a', HEAD, TAIL.replace('"finish_reason":null', '"finish_reason":"stop"')),
      content('a', HEAD.replace('chatcmpl-1', 'chatcmpl-2')),
      content('a\\nb\n\ndata: [DONE]\n\ndata: x'), // raw line ends in the "text": three events, not one
      content('a"b'),
      content('a\\qb'),
      ` ${content('a')}`,
      content('a', HEAD, TAIL, '\r\n\r\n'),
    ]) {
      expect(templates.wholeEvents(Buffer.from(chunk)), chunk).toBe(0);
    }
  });

  it('does not learn events without a text it can vary, twice the same template, or past four templates', () => {
    expect(learned(content('')).count).toBe(0);
    expect(learned(content('a\\x')).count).toBe(0); // not a JSON string
    expect(learned(content('a', HEAD, TAIL, '\r\r')).count).toBe(0); // a blank line that does not end in LF
    const templates = learned(content('a'));
    for (let id = 0; id < 6; id++) {
      const event = Buffer.from(content('b', HEAD.replace('chatcmpl-1', `chatcmpl-${id}`)));
      templates.learn(event, 0, event.length, 6, event.length - 2);
    }
    expect(templates.count).toBe(4);
  });
});

describe('closingQuote counting characters', () => {
  const characters = (raw: string) => {
    const text = Buffer.from(`${raw}"`);
    expect(closingQuote(text, 0, text.length)).toBe(text.length - 1);
    return lastString.characters;
  };

  it('counts a JSON string text as the length of the decoded string', () => {
    for (const raw of ['abc', '你好世界', '😀x', 'caf\\u00e9', '\\ud83d\\ude00!', 'a\\"b\\\\c\\n', '']) {
      expect(characters(raw)).toBe((JSON.parse(`"${raw}"`) as string).length);
    }
  });
});

describe('the tap with event templates', () => {
  it('takes the shortcut for the steady content chunks of a stream', () => {
    const wholeEvents = vi.spyOn(EventTemplates.prototype, 'wholeEvents');
    const events = [ROLE, content('a'), content('b'), content('c'), content('d'), FINISH, USAGE, DONE];
    const run = runTap(events.map((event) => Buffer.from(event)), { stripUsageEvent: true });
    expect(run.facts).toMatchObject({ contentEvents: 5, finishReasons: ['stop'], usage: { completionTokens: 4 }, done: true });
    expect(wholeEvents.mock.results.map((result) => result.value)).toEqual([1, 1, 1, 0, 0, 0]);
  });

  it.each([
    ['two events in one chunk', [content('a'), content('b') + content('c'), content('d')].join('')],
    ['content that reads like keys and frames', [content('a'), content('\\"finish_reason\\":\\"stop\\",\\"usage\\":{}'), content('data: [DONE]\\n\\n'), content(':')].join('')],
    ['a raw line end where the text would be', [content('a'), content('b\n\ndata: [DONE]\n\ndata: x'), content('c')].join('')],
    ['the id changes mid-stream', [content('a'), content('b'), content('c', HEAD.replace('chatcmpl-1', 'chatcmpl-9')), content('d', HEAD.replace('chatcmpl-1', 'chatcmpl-9')), content('e')].join('')],
    [
      'n=2 choices interleave',
      [content('a'), content('b', HEAD.replace('"index":0', '"index":1')), content('c'), content('d', HEAD.replace('"index":0', '"index":1'))].join(''),
    ],
    ['reasoning, then content', [content('r1', HEAD.replace('"content"', '"reasoning_content"')), content('r2', HEAD.replace('"content"', '"reasoning_content"')), content('a'), content('b')].join('')],
    ['CRLF line ends', [content('a', HEAD, TAIL, '\r\n\r\n'), content('b', HEAD, TAIL, '\r\n\r\n'), content('c', HEAD, TAIL, '\r\n\r\n')].join('')],
    ['CR line ends', [content('a', HEAD, TAIL, '\r\r'), content('b', HEAD, TAIL, '\r\r'), content('c', HEAD, TAIL, '\r\r')].join('')],
    ['line ends change mid-stream', [content('a'), content('b', HEAD, TAIL, '\r\n\r\n'), content('c'), content('d', HEAD, TAIL, '\r\r'), content('e')].join('')],
    ['five shapes (more than the templates kept)', [0, 1, 2, 3, 4, 5, 0, 1, 5].map((id) => content(`t${id}`, HEAD.replace('chatcmpl-1', `chatcmpl-${id}`))).join('')],
    ['an empty content chunk in the middle', [content('a'), content(''), content('b')].join('')],
    ['CJK, astral and escaped non-ASCII texts', [content('a'), content('你好世界'), content('😀x'), content('\\ud83d\\ude00'), content('b')].join('')],
    ['long and escaped texts', [content('a'), content('x'.repeat(5_000)), content('\\u00e9\\"\\\\'), content('b')].join('')],
    ['a comment line inside a content event', [content('a'), `: keep-alive\n${content('b')}`, content('c')].join('')],
    ['a truncated stream', [content('a'), content('b'), content('c').slice(0, -5)].join('')],
  ])('counts exactly what a parse of every event counts: %s', (_name, body) => {
    expectExact(ROLE + body + (body.endsWith('\n') || body.endsWith('\r') ? FINISH + USAGE + DONE : ''));
  });

  it('is never wrong where it answers: every event a template recognises, in every fixture, the parse calls content', () => {
    let recognised = 0;
    let checked = 0;
    for (const name of readdirSync(new URL('../../fixtures/sse/', import.meta.url))) {
      const input = loadFixture(name);
      const templates = new EventTemplates();
      const splitter = new SseSplitter();
      splitter.begin(input);
      const location = createDataLocation();
      for (let start = 0, end = splitter.next(); end !== -1; start = end, end = splitter.next()) {
        const { kind, parsed } = classifyEvent(input.subarray(start, end));
        checked++;
        if (templates.count !== 0 && templates.matchEvent(input, start, end)) {
          expect(kind, `${name} @${start}`).toBe('content');
          recognised++;
        } else if (kind === 'content' && parsed!.finishReasons === undefined && parsed!.usage === undefined && locateData(input, start, end, location) && location.text === undefined) {
          templates.learn(input, start, end, location.start, location.end);
        }
      }
    }
    expect(checked).toBeGreaterThan(80);
    expect(recognised).toBeGreaterThan(20);
  });

  it('agrees with the general path on every fixture fed one, two or three events per chunk', () => {
    for (const name of ['chat-basic.sse', 'chat-include-usage.sse', 'chat-crlf.sse', 'chat-reasoning.sse', 'chat-n2.sse', 'chat-tool-calls.sse', 'completions-usage.sse', 'multiline-mixed-endings.sse']) {
      expectExact(loadFixture(name).toString('latin1'));
    }
  });
});
