import { describe, expect, it } from 'vitest';
import { usageFromJsonTail } from '../../../src/proxy/body-usage.js';
import { withStreamUsage } from '../../../src/proxy/stream-usage-request.js';
import { vllmStreamUsage } from '../../../src/proxy/vllm-stream-options.js';
import { createPrng } from '../../../src/sim/prng.js';

const rewrite = (text: string) => withStreamUsage(Buffer.from(text), JSON.parse(text))?.toString();

const OUR_MEMBER = '"stream_options":{"include_usage":true}';

/**
 * What the replica reads from a rewritten body, checked without the code under test: the body
 * starts with one stream_options member and the members after it, parsed as an object of their
 * own (JSON.parse, like Python's json, lets the last duplicate win), hold no other one.
 */
function replicaView(sent: string): { streamOptions: unknown; rest: Record<string, unknown> } {
  expect(sent.startsWith('{"stream_options":')).toBe(true);
  const parsed = JSON.parse(sent) as Record<string, unknown>;
  const firstValueEnd = sent.indexOf('}', '{"stream_options":'.length) + 1;
  const rest = JSON.parse(`{${sent.slice(firstValueEnd + (sent[firstValueEnd] === ',' ? 1 : 0))}`) as Record<string, unknown>;
  expect(Object.hasOwn(rest, 'stream_options')).toBe(false);
  return { streamOptions: parsed.stream_options, rest };
}

describe('withStreamUsage', () => {
  it('splices the option in and leaves the rest of the bytes as sent', () => {
    const sent = '{ "model":"m",  "stream":true, "messages":[{"role":"user","content":"caf\\u00e9"}]}';
    expect(rewrite(sent)).toBe('{"stream_options":{"include_usage":true}, "model":"m",  "stream":true, "messages":[{"role":"user","content":"caf\\u00e9"}]}');
    expect(JSON.parse(rewrite(sent)!)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('splices when "stream_options" appears only inside strings or nested objects', () => {
    const sent = '{"model":"m","stream":true,"messages":[{"role":"user","content":"\\"stream_options\\": null"}],"metadata":{"stream_options":null}}';
    expect(rewrite(sent)).toBe(`{${OUR_MEMBER},${sent.slice(1)}`);
  });

  // Every value vLLM reads as "no usage": the replica gets exactly one stream_options, asking for usage.
  it.each([
    ['null', '{"model":"m","stream":true,"stream_options":null}', { include_usage: true }],
    ['include_usage false', '{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":1}}', { include_usage: true, x: 1 }],
    ['include_usage null', '{"model":"m","stream":true,"stream_options":{"include_usage":null}}', { include_usage: true }],
    ['include_usage "off" (pydantic reads false)', '{"model":"m","stream":true,"stream_options":{"include_usage":"off"}}', { include_usage: true }],
    ['include_usage 0', '{"model":"m","stream":true,"stream_options":{"include_usage":0}}', { include_usage: true }],
    [
      'continuous_usage_stats without usage (it never took effect: turned off)',
      '{"model":"m","stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":true}}',
      { include_usage: true, continuous_usage_stats: false },
    ],
    ['an escaped inner key', '{"model":"m","stream":true,"stream_options":{"include\\u005fusage":false}}', { include_usage: true }],
    ['an escaped key', '{"model":"m","stream":true,"\\u0073tream_options":null}', { include_usage: true }],
    ['duplicated, the last one null', '{"stream_options":{"include_usage":true},"model":"m","stream":true,"stream_options":null}', { include_usage: true }],
    ['duplicated, an escaped last one false', '{"stream_options":{"include_usage":true},"model":"m","stream":true,"stream\\u005foptions":false,"stream_options":{"include_usage":false}}', { include_usage: true }],
    ['three times, spaced and last', '{ "model" : "m" , "stream_options" : "x" , "stream" : true , "stream_options" :\n{ } , "stream_options" : null }', { include_usage: true }],
  ])('asks for usage once when the client sent %s', (_name, sent, expected) => {
    const out = rewrite(sent)!;
    const { streamOptions, rest } = replicaView(out);
    expect(streamOptions).toEqual(expected);
    const { stream_options: _ignored, ...clientRest } = JSON.parse(sent) as Record<string, unknown>;
    expect(rest).toEqual(clientRest);
  });

  it('keeps every other member byte for byte, numbers past 2^53 and escapes included', () => {
    const sent = '{"model":"m", "seed":12345678901234567890123, "stream":true,"stream_options":null,"temperature":0.10000000000000000555,"messages":[{"role":"user","content":"\\u4f60\\u597d [\\"}\\"]"}]}';
    expect(rewrite(sent)).toBe(`{${OUR_MEMBER},"model":"m","seed":12345678901234567890123,"stream":true,"temperature":0.10000000000000000555,"messages":[{"role":"user","content":"\\u4f60\\u597d [\\"}\\"]"}]}`);
  });

  // What vLLM reads as "usage" already, or rejects (the client gets vLLM's own 400): sent as is.
  it.each([
    ['include_usage true', '{"model":"m","stream":true,"stream_options":{"include_usage":true}}'],
    ['an empty object (include_usage defaults to true in vLLM)', '{"model":"m","stream":true,"stream_options":{}}'],
    ['continuous usage (include_usage defaults to true)', '{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":true}}'],
    ['include_usage "yes"', '{"model":"m","stream":true,"stream_options":{"include_usage":"yes"}}'],
    ['include_usage 1', '{"model":"m","stream":true,"stream_options":{"include_usage":1}}'],
    ['duplicated, the last one asking', '{"model":"m","stream":true,"stream_options":null,"stream_options":{"include_usage":true}}'],
    ['false (vLLM: 400)', '{"model":"m","stream":true,"stream_options":false}'],
    ['a string (vLLM: 400)', '{"model":"m","stream":true,"stream_options":"include_usage"}'],
    ['an array (vLLM: 400)', '{"model":"m","stream":true,"stream_options":[]}'],
    ['include_usage "maybe" (vLLM: 400)', '{"model":"m","stream":true,"stream_options":{"include_usage":"maybe"}}'],
    ['include_usage 2 (vLLM: 400)', '{"model":"m","stream":true,"stream_options":{"include_usage":2}}'],
    ['continuous_usage_stats [] (vLLM: 400)', '{"model":"m","stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":[]}}'],
    ['no stream', '{"model":"m","stream":false}'],
    ['no stream field', '{"model":"m"}'],
  ])('sends the body as it is when the client sent %s', (_name, sent) => {
    expect(rewrite(sent)).toBeUndefined();
  });
});

describe('withStreamUsage over generated bodies', () => {
  const prng = createPrng(18);
  const pick = <T>(items: readonly T[]): T => items[prng.int(0, items.length - 1)]!;
  const space = () => pick(['', '', ' ', '\n  ', '\t']);
  const STRINGS = ['a', 'stream_options', '"stream_options":null', '}{][,:', '\\', '你好', '😀', 'line\nend'];
  /** A JSON text for a random value, its strings escaped in random ways. */
  const value = (depth: number): string => {
    switch (prng.int(0, depth > 2 ? 3 : 5)) {
      case 0:
        return pick(['null', 'true', 'false']);
      case 1:
        return pick(['0', '-1.5e3', '12345678901234567890123', '0.10000000000000000555']);
      case 2:
      case 3:
        return text(pick(STRINGS));
      case 4:
        return `[${space()}${Array.from({ length: prng.int(0, 3) }, () => value(depth + 1)).join(`${space()},${space()}`)}${space()}]`;
      default:
        return object(Array.from({ length: prng.int(0, 3) }, () => [pick(['k', 'stream_options', 'include_usage']), value(depth + 1)] as const));
    }
  };
  const text = (raw: string): string => {
    const escaped = JSON.stringify(raw);
    if (prng.next() < 0.5) return escaped;
    // Spell some plain characters as \u escapes.
    return `"${[...escaped.slice(1, -1)].map((ch) => (/[a-z_]/.test(ch) && prng.next() < 0.3 ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : ch)).join('')}"`;
  };
  const object = (members: ReadonlyArray<readonly [string, string]>): string =>
    `{${space()}${members.map(([key, member]) => `${text(key)}${space()}:${space()}${member}`).join(`${space()},${space()}`)}${space()}}`;
  const OPTIONS = ['null', 'false', '"x"', '[]', '{}', '{"include_usage":false}', '{"include_usage":true}', '{"include_usage":null,"continuous_usage_stats":true}', '{"include_usage":"maybe"}'];

  it('sends one stream_options asking for usage exactly when vLLM would send none, every other member unchanged', () => {
    let rewritten = 0;
    for (let round = 0; round < 3000; round++) {
      const members: Array<readonly [string, string]> = Array.from({ length: prng.int(0, 4) }, () => [pick(['model', 'messages', 'seed', 'k']), value(0)] as const);
      members.splice(prng.int(0, members.length), 0, ['stream', 'true']);
      for (let n = prng.int(0, 3); n > 0; n--) members.splice(prng.int(0, members.length), 0, ['stream_options', pick(OPTIONS)]);
      const sent = `${space()}${object(members)}${space()}`;
      const parsed = JSON.parse(sent) as Record<string, unknown>;
      if (parsed.stream !== true) continue;
      const reading = vllmStreamUsage(parsed.stream_options);
      const out = withStreamUsage(Buffer.from(sent), parsed)?.toString();
      if (reading.valid && !reading.includeUsage) {
        expect(out, sent).toBeDefined();
        const { streamOptions, rest } = replicaView(out!.trimStart());
        expect(vllmStreamUsage(streamOptions)).toEqual({ valid: true, includeUsage: true, continuousUsage: false });
        const { stream_options: _ignored, ...clientRest } = parsed;
        expect(rest).toEqual(clientRest);
        rewritten++;
      } else {
        expect(out, sent).toBeUndefined();
      }
    }
    expect(rewritten).toBeGreaterThan(500);
  });
});

describe('vllmStreamUsage', () => {
  it('reads stream_options as vLLM pydantic model does', () => {
    expect(vllmStreamUsage(undefined)).toEqual({ valid: true, includeUsage: false, continuousUsage: false });
    expect(vllmStreamUsage({})).toEqual({ valid: true, includeUsage: true, continuousUsage: false });
    expect(vllmStreamUsage({ continuous_usage_stats: 'on' })).toEqual({ valid: true, includeUsage: true, continuousUsage: true });
    expect(vllmStreamUsage({ include_usage: 'False', continuous_usage_stats: true })).toEqual({ valid: true, includeUsage: false, continuousUsage: false });
    expect(vllmStreamUsage({ include_usage: {} })).toEqual({ valid: false });
    expect(vllmStreamUsage(0)).toEqual({ valid: false });
  });
});

describe('usageFromJsonTail', () => {
  it('reads chat usage, with cached tokens, from the end of a body', () => {
    const body = `{"id":"x","choices":[{"message":{"content":"usage: {not this}"}}],"usage":{"prompt_tokens":12,"total_tokens":20,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":4}},"prompt_logprobs":null}`;
    expect(usageFromJsonTail(Buffer.from(body))).toEqual({ promptTokens: 12, completionTokens: 8, totalTokens: 20, cachedPromptTokens: 4 });
  });

  it('reads embeddings and Responses API usage', () => {
    expect(usageFromJsonTail(Buffer.from('{"data":[],"usage":{"prompt_tokens":5,"total_tokens":5}}'))).toEqual({
      promptTokens: 5,
      completionTokens: 0,
      totalTokens: 5,
      cachedPromptTokens: undefined,
    });
    expect(usageFromJsonTail(Buffer.from('{"usage": {"input_tokens":3,"output_tokens":4,"total_tokens":7,"input_tokens_details":{"cached_tokens":0}}}'))).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 7,
      cachedPromptTokens: 0,
    });
  });

  it('gives up cleanly on bodies without a complete usage object', () => {
    expect(usageFromJsonTail(Buffer.from('{"ok":true}'))).toBeUndefined();
    expect(usageFromJsonTail(Buffer.from('"usage":{"prompt_tokens":1'))).toBeUndefined();
    expect(usageFromJsonTail(Buffer.from('"usage":null}'))).toBeUndefined();
  });
});
