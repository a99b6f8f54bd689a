import { describe, expect, it, vi } from 'vitest';

import { ContentPrefix, PREFIX_MISMATCH } from '../../../src/streaming/content-prefix.js';
import * as sseEvent from '../../../src/streaming/sse-event.js';
import { classifyEvent, SCAN_CONTENT, SCAN_PARSE, scanPayload } from '../../../src/streaming/sse-event.js';
import { runTap } from './tap-harness.js';

const HEAD = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":';
const TAIL = '},"logprobs":null,"finish_reason":null}]}';
const content = (text: string, tail = TAIL, head = HEAD): string => `${head}${JSON.stringify(text)}${tail}`;

function learned(payload = content('Hello')): ContentPrefix {
  const prefix = new ContentPrefix();
  const buf = Buffer.from(payload);
  prefix.learn(buf, 0, buf.length);
  return prefix;
}

/** The shortcut's verdict on `payload`, checked against the full scan whenever it gives one. */
function verdict(prefix: ContentPrefix, payload: string): number {
  const buf = Buffer.from(payload);
  const result = prefix.classify(buf, 0, buf.length);
  if (result !== PREFIX_MISMATCH) expect(result).toBe(scanPayload(buf, 0, buf.length));
  return result;
}

describe('ContentPrefix', () => {
  it('classifies content events that share the prefix without the full scan', () => {
    const prefix = learned();
    expect(prefix.learned).toBe(true);
    expect(verdict(prefix, content(' world'))).toBe(SCAN_CONTENT);
    expect(verdict(prefix, content('text with \\"finish_reason\\":\\"x\\" and "usage": {}'))).toBe(SCAN_CONTENT);
    // Text with quotes or ending in a backslash: not the learned shape, so the keys after the text are walked.
    expect(verdict(prefix, content('say "hi"'))).toBe(SCAN_CONTENT);
    expect(verdict(prefix, content('C:\\'))).toBe(SCAN_CONTENT);
    expect(verdict(prefix, content('"', '},"logprobs":null,"finish_reason":"stop"}]}'))).toBe(SCAN_PARSE);
  });

  it('flags what follows the text: a finish_reason, a usage object, a second choice finishing, a cut payload', () => {
    const prefix = learned();
    expect(verdict(prefix, content('.', '},"logprobs":null,"finish_reason":"stop"}]}'))).toBe(SCAN_PARSE);
    expect(verdict(prefix, content('.', `${TAIL.slice(0, -1)},"usage":{"prompt_tokens":1}}`))).toBe(SCAN_PARSE);
    expect(verdict(prefix, content('.', '},"finish_reason":null},{"index":1,"delta":{},"finish_reason":"length"}]}'))).toBe(SCAN_PARSE);
    expect(verdict(prefix, content('.', '},"finish_reason":null}]'))).toBe(SCAN_PARSE);
  });

  it('falls back to the full scan for another id, another choice index, a role, tool calls or empty content', () => {
    const prefix = learned();
    expect(verdict(prefix, content('x', TAIL, HEAD.replace('chatcmpl-1', 'chatcmpl-2')))).toBe(PREFIX_MISMATCH);
    expect(verdict(prefix, content('x', TAIL, HEAD.replace('"index":0', '"index":1')))).toBe(PREFIX_MISMATCH);
    expect(verdict(prefix, content('x', TAIL, HEAD.replace('{"content":', '{"role":"assistant","content":')))).toBe(PREFIX_MISMATCH);
    expect(verdict(prefix, HEAD.replace('{"content":', '{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}'))).toBe(PREFIX_MISMATCH);
    expect(verdict(prefix, content(''))).toBe(PREFIX_MISMATCH);
    expect(verdict(prefix, HEAD.slice(0, 40))).toBe(PREFIX_MISMATCH);
  });

  it('does not learn from a payload whose prefix holds a key the scan acts on, an error key, or no delta content', () => {
    const usageFirst = '{"usage":{"prompt_tokens":1},"choices":[{"index":0,"delta":{"content":"x"}}]}';
    const errorFirst = '{"error":null,"choices":[{"index":0,"delta":{"content":"x"}}]}';
    const roleAndContent = content('x', TAIL, HEAD.replace('{"content":', '{"role":"assistant","content":'));
    const completions = '{"id":"cmpl-1","choices":[{"index":0,"text":"x","finish_reason":null}]}';
    for (const payload of [usageFirst, errorFirst, roleAndContent, completions]) expect(learned(payload).learned).toBe(false);
  });
});

describe('the tap with the content prefix', () => {
  const event = (payload: string): Buffer => Buffer.from(`data: ${payload}\n\n`);
  const role = event(content('', TAIL, HEAD.replace('{"content":', '{"role":"assistant","content":')));

  /** The facts a parse of every event gives: content events and finish reasons. */
  function parsedFacts(events: readonly Buffer[]): { contentEvents: number; finishReasons: string[] } {
    let contentEvents = 0;
    const finishReasons: string[] = [];
    for (const e of events) {
      const { kind, parsed } = classifyEvent(e);
      if (kind === 'content') contentEvents++;
      finishReasons.push(...(parsed?.finishReasons ?? []));
    }
    return { contentEvents, finishReasons };
  }

  it.each([
    ['the id changes mid-stream', [content('a'), content('b'), content('c', TAIL, HEAD.replace('chatcmpl-1', 'chatcmpl-9')), content('d')]],
    [
      'n=2 choices interleave',
      [content('a'), content('b', TAIL, HEAD.replace('"index":0', '"index":1')), content('c'), content('d', '},"finish_reason":"stop"}]}', HEAD.replace('"index":0', '"index":1'))],
    ],
    [
      'tool calls follow the text',
      [content('a'), HEAD.replace('{"content":', '{"tool_calls":[{"index":0,"function":{"arguments":"{\\"content\\":\\"x\\"}"}}]}}]}'), content('', '},"finish_reason":"tool_calls"}]}')],
    ],
    ['content chunks carry usage (continuous_usage_stats)', [content('a', `${TAIL.slice(0, -1)},"usage":{"completion_tokens":1}}`), content('b', `${TAIL.slice(0, -1)},"usage":{"completion_tokens":2}}`)]],
    ['a content event is cut short', [content('a'), content('b').slice(0, -3), content('c')]],
  ])('counts exactly what a parse of every event counts when %s', (_name, payloads) => {
    const events = [role, ...payloads.map(event), event('[DONE]')];
    const run = runTap(events, { stripUsageEvent: false });
    expect(run.facts).toMatchObject(parsedFacts(events));
  });

  it('takes the shortcut for the steady content events of a stream, and the full scan after a mismatch', () => {
    const scan = vi.spyOn(sseEvent, 'scanPayload');
    const steady = ['a', 'b', 'c', 'd'].map((text) => event(content(text)));
    const otherId = event(content('e', TAIL, HEAD.replace('chatcmpl-1', 'chatcmpl-2')));
    const run = runTap([role, ...steady, otherId, event('[DONE]')], { stripUsageEvent: false });
    expect(run.facts.contentEvents).toBe(5);
    // The role chunk and the first content event (before the first content), then only the event with another id.
    expect(scan).toHaveBeenCalledTimes(3);
    vi.restoreAllMocks();
  });
});
