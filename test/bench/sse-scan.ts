/**
 * Just enough SSE parsing for the stream load generator, over bytes: it counts completed frames
 * (a frame ends at a blank line, "\n\n", as vLLM writes them) and finds the first frame that
 * carries generated text. Only frames up to that one are decoded and JSON-parsed; after it the
 * scanner only looks for "\n\n", so at 1000 streams the generator spends its CPU on sockets,
 * not on parsing.
 */

const LF = 0x0a;

/**
 * True when an SSE frame's data is a chat chunk whose first choice's `delta.content` (or a
 * completion chunk's `text`) is a non-empty string. The role chunk (`"content":""`), usage
 * frames (`"choices":[]`), `[DONE]` and error frames are not content.
 */
export function frameHasContent(frame: string): boolean {
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('data:')) data += line.slice(line.startsWith('data: ') ? 6 : 5);
  }
  if (data === '' || data === '[DONE]') return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null) return false;
  const choices: unknown = (parsed as { choices?: unknown }).choices;
  if (!Array.isArray(choices) || choices.length === 0) return false;
  const choice: unknown = choices[0];
  if (typeof choice !== 'object' || choice === null) return false;
  const delta: unknown = (choice as { delta?: unknown }).delta;
  const text: unknown =
    typeof delta === 'object' && delta !== null ? (delta as { content?: unknown }).content : (choice as { text?: unknown }).text;
  return typeof text === 'string' && text.length > 0;
}

export class SseScanner {
  /** Frames completed so far. */
  frames = 0;
  /** Whether a content frame has been completed. */
  contentSeen = false;
  private previousByte = 0;
  /** Bytes of the frame in progress, kept only until the first content frame is found. */
  private partial: Buffer[] = [];

  /**
   * Feeds the next bytes of the body. Returns the number of frames this chunk completed; read
   * `contentSeen` after the call to learn whether the first content frame completed in it.
   */
  push(chunk: Buffer): number {
    let completed = 0;
    let frameStart = 0;
    let index = chunk.indexOf(LF);
    while (index !== -1) {
      const previous = index === 0 ? this.previousByte : chunk[index - 1]!;
      if (previous === LF) {
        completed++;
        if (!this.contentSeen) {
          this.partial.push(chunk.subarray(frameStart, index + 1));
          this.contentSeen = frameHasContent(Buffer.concat(this.partial).toString('utf8'));
          this.partial = [];
        }
        frameStart = index + 1;
      }
      index = chunk.indexOf(LF, index + 1);
    }
    if (!this.contentSeen && frameStart < chunk.length) this.partial.push(chunk.subarray(frameStart));
    if (chunk.length > 0) this.previousByte = chunk[chunk.length - 1]!;
    this.frames += completed;
    return completed;
  }
}
