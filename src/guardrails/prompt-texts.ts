/**
 * Most strings one walk visits: far above any real prompt, and a body built to be walked
 * (millions of tiny parts, within the body limit) stays cheap. Past it the rest is not looked at,
 * which the stage treats as a reason to refuse rather than to let unchecked text through.
 */
export const PROMPT_TEXT_MAX_VALUES = 1_000_000;

/**
 * Calls `visit` for every piece of prompt text of an OpenAI-style body, where vLLM reads it: chat
 * `messages[].content` (a string, or parts with `text`), completions `prompt` (a string or a
 * list), responses and embeddings `input` (strings, or items with `content`/`text`). `visit` may
 * return a replacement, written back in place (callers give a copy they own). Returns false when
 * the walk stopped at PROMPT_TEXT_MAX_VALUES.
 */
export function walkPromptTexts(body: unknown, visit: (text: string) => string | undefined): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return true;
  // Each entry: a container and the member (or index) holding a value still to look at.
  const pending: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const record = body as Record<string, unknown>;
  for (const member of ['prompt', 'input']) if (member in record) pending.push([record, member]);
  if (Array.isArray(record.messages)) {
    for (const message of record.messages) if (typeof message === 'object' && message !== null) pending.push([message as Record<string, unknown>, 'content']);
  }
  for (let visited = 0; pending.length > 0; visited++) {
    if (visited >= PROMPT_TEXT_MAX_VALUES) return false;
    const [container, member] = pending.pop()!;
    const value = (container as Record<string | number, unknown>)[member];
    if (typeof value === 'string') {
      const replacement = visit(value);
      if (replacement !== undefined) (container as Record<string | number, unknown>)[member] = replacement;
    } else if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index++) pending.push([value, index]);
    } else if (typeof value === 'object' && value !== null) {
      for (const inner of ['text', 'content']) if (inner in value) pending.push([value as Record<string, unknown>, inner]);
    }
  }
  return true;
}
