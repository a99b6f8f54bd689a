/** Characters per token for estimates: the usual rule of thumb for English text with BPE tokenizers. */
const CHARACTERS_PER_TOKEN = 4;

/**
 * Estimates the prompt tokens of an OpenAI-style request body from its text: chat `messages`
 * (string or text-part content), completions `prompt`, responses/embeddings `input`. Only used
 * when the replica never reported usage; such counts are labelled estimated.
 */
export function estimatePromptTokens(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const { messages, prompt, input } = body as { messages?: unknown; prompt?: unknown; input?: unknown };
  const characters = textLength(prompt) + textLength(input) + (Array.isArray(messages) ? messages.reduce<number>((sum, message) => sum + textLength((message as { content?: unknown } | null)?.content), 0) : 0);
  return Math.ceil(characters / CHARACTERS_PER_TOKEN);
}

function textLength(value: unknown): number {
  if (typeof value === 'string') return value.length;
  // A token id (completions accept prompts as token arrays) is one token.
  if (typeof value === 'number') return CHARACTERS_PER_TOKEN;
  if (Array.isArray(value)) return value.reduce<number>((sum, part) => sum + textLength(part), 0);
  if (typeof value === 'object' && value !== null) {
    const { text, content } = value as { text?: unknown; content?: unknown };
    return textLength(text) + textLength(content);
  }
  return 0;
}

/** Tokens of `characters` characters of generated text, by the same rule as the prompt estimate. */
export function estimateTextTokens(characters: number): number {
  return Math.ceil(characters / CHARACTERS_PER_TOKEN);
}
