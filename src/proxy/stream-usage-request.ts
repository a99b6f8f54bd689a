import { replaceTopLevelMember } from './json-members.js';
import { vllmStreamUsage } from './vllm-stream-options.js';

/**
 * Asks the replica for the streamed usage event (stream_options.include_usage) on behalf of a
 * client that did not, so every stream ends with exact token counts; the stream tap removes that
 * event again before it reaches the client. Returns the body to send, or undefined when the body
 * goes as sent: the client's own stream_options already gets usage (vLLM's reading of it, see
 * vllm-stream-options.ts), vLLM would reject the client's value (the client gets vLLM's 400), or
 * it is not a stream.
 *
 * Whether the client sent `stream_options` is asked of the parsed body, which resolved duplicate
 * keys and escaped spellings (`"\u0073tream_options"`) as the replica's Python json does: the
 * last one wins. When it has none, no key of the raw body means stream_options, so the option is
 * spliced in after the opening brace and every other byte reaches the replica as sent. Otherwise
 * every member that means stream_options is cut out of the raw bytes and one replaces them,
 * first: the replica sees exactly one.
 */
const OPTION_MEMBER = '"stream_options":{"include_usage":true}';
const OPTION_SPLICE = Buffer.from(`${OPTION_MEMBER},`);

export function withStreamUsage(raw: Buffer, json: unknown): Buffer | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const body = json as Record<string, unknown>;
  if (body.stream !== true) return undefined;
  if (!Object.hasOwn(body, 'stream_options')) {
    const brace = raw.indexOf(0x7b); // '{'; a stream body always has keys after it ("stream" at least)
    return Buffer.concat([raw.subarray(0, brace + 1), OPTION_SPLICE, raw.subarray(brace + 1)]);
  }
  const options = body.stream_options;
  const reading = vllmStreamUsage(options);
  if (!reading.valid || reading.includeUsage) return undefined;
  return replaceTopLevelMember(raw, 'stream_options', options === null ? OPTION_MEMBER : `"stream_options":${JSON.stringify(askUsage(options as Record<string, unknown>))}`);
}

/**
 * The client's options with usage on. continuous_usage_stats only ever took effect with
 * include_usage, so a client that set it without usage saw no usage on its chunks: it is turned
 * off, and the only usage the replica adds is the final usage-only event the tap strips.
 */
function askUsage(options: Record<string, unknown>): Record<string, unknown> {
  const asked: Record<string, unknown> = { ...options, include_usage: true };
  if (Object.hasOwn(options, 'continuous_usage_stats')) asked['continuous_usage_stats'] = false;
  return asked;
}
