/** Characters per token for estimates: the usual rule of thumb for English text with BPE tokenizers. */
const CHARACTERS_PER_TOKEN = 4;

/**
 * Most JSON values one estimate looks at. Far above any real prompt (a 128k-token prompt sent as
 * token ids is 128k values), and it keeps a body built to be walked (millions of empty arrays,
 * within the body limit) from costing more than a few milliseconds. Past it the estimate counts
 * what it has seen.
 */
export const ESTIMATE_MAX_VALUES = 1_000_000;

/**
 * Estimates the prompt tokens of an OpenAI-style request body from its text: chat `messages`
 * (string or text-part content), completions `prompt`, responses/embeddings `input`. Used to
 * reserve tokens before dispatch and when the replica never reported usage; such counts are
 * labelled estimated.
 *
 * The body is the client's JSON, nested as deep as it likes: the walk keeps its own stack of
 * values still to visit (never the call stack) and visits at most ESTIMATE_MAX_VALUES of them.
 */
export function estimatePromptTokens(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const { messages, prompt, input } = body as { messages?: unknown; prompt?: unknown; input?: unknown };
  const pending: unknown[] = [prompt, input];
  if (Array.isArray(messages)) pushParts(pending, messages, (message) => (message as { content?: unknown } | null)?.content);
  let characters = 0;
  for (let visited = 0; pending.length > 0 && visited < ESTIMATE_MAX_VALUES; visited++) {
    const value = pending.pop();
    if (typeof value === 'string') characters += value.length;
    // A token id (completions accept prompts as token arrays) is one token.
    else if (typeof value === 'number') characters += CHARACTERS_PER_TOKEN;
    else if (Array.isArray(value)) pushParts(pending, value, (part) => part);
    else if (typeof value === 'object' && value !== null) {
      const { text, content } = value as { text?: unknown; content?: unknown };
      pending.push(text, content);
    }
  }
  return Math.ceil(characters / CHARACTERS_PER_TOKEN);
}

/** Queues what `pick` takes from each item, but never more values than a walk may visit. */
function pushParts(pending: unknown[], items: readonly unknown[], pick: (item: unknown) => unknown): void {
  const room = Math.min(items.length, ESTIMATE_MAX_VALUES - pending.length);
  for (let i = 0; i < room; i++) pending.push(pick(items[i]));
}

/** Tokens of `characters` characters of generated text, by the same rule as the prompt estimate. */
export function estimateTextTokens(characters: number): number {
  return Math.ceil(characters / CHARACTERS_PER_TOKEN);
}
