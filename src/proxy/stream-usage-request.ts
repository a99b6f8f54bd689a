/**
 * Asks the replica for the streamed usage event (stream_options.include_usage) on behalf of a
 * client that did not, so every stream ends with exact token counts; the stream tap removes that
 * event again before it reaches the client. Returns the body to send, or undefined when the
 * client's own body already asks for usage (or is not a stream).
 *
 * The common case splices the option in after the opening brace, so the rest of the client's
 * bytes reach the replica unchanged; a body that already has stream_options is re-serialised.
 */
const OPTION_SPLICE = Buffer.from('"stream_options":{"include_usage":true},');

export function withStreamUsage(raw: Buffer, json: unknown): Buffer | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const body = json as Record<string, unknown>;
  if (body.stream !== true) return undefined;
  const options = body.stream_options;
  if (options === undefined || options === null) {
    const brace = raw.indexOf(0x7b); // '{'; a stream body always has keys after it ("stream" at least)
    return Buffer.concat([raw.subarray(0, brace + 1), OPTION_SPLICE, raw.subarray(brace + 1)]);
  }
  if (typeof options !== 'object' || Array.isArray(options)) return undefined;
  const asked = options as Record<string, unknown>;
  if (asked.include_usage === true) return undefined;
  // continuous_usage_stats only takes effect with include_usage: turning that on would put usage
  // on every chunk the client receives, so such a stream is left alone (its tokens get estimated).
  if (asked.continuous_usage_stats === true) return undefined;
  return Buffer.from(JSON.stringify({ ...body, stream_options: { ...asked, include_usage: true } }));
}
