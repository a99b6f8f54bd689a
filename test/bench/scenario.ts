/**
 * The requests every target gets, identical byte for byte. Output length and timing are set per
 * request with the simulator's x-sim-* headers, which both proxies pass through untouched, so
 * one simulator process serves every scenario.
 */

export const CHAT_PATH = '/v1/chat/completions';

export interface SimTiming {
  /** Output tokens; one token per chunk, so also the number of content chunks of a stream. */
  readonly tokens: number;
  /** Pause between chunks (0 = unpaced). */
  readonly interTokenMs: number;
  /** Prefill time before the first token. */
  readonly ttftMs: number;
}

export function chatBody(stream: boolean): string {
  return JSON.stringify({
    model: 'tollbooth-sim-model',
    messages: [{ role: 'user', content: 'Say something about toll booths.' }],
    stream,
  });
}

export function simHeaders(timing: SimTiming): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-sim-tokens': String(timing.tokens),
    'x-sim-itl-ms': String(timing.interTokenMs),
    'x-sim-ttft-ms': String(timing.ttftMs),
  };
}
