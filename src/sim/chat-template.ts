import { IM_END_ID, IM_START_ID, NEWLINE_ID, tokenizeInto } from './tokenizer.js';

/** A chat message as clients send it; only the fields the template reads. */
export interface ChatMessageInput {
  role: string;
  content: unknown;
}

/** Text of a message's content: a string, or the text parts of an array of content parts. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string') {
      text += part.text;
    }
  }
  return text;
}

/**
 * Prompt token ids of a conversation under a ChatML-like template:
 * `<|im_start|>role\ncontent<|im_end|>\n` per message, then `<|im_start|>assistant\n`.
 * Built straight as ids so the markers stay single special tokens.
 */
export function chatPromptTokens(messages: readonly ChatMessageInput[], addGenerationPrompt = true): number[] {
  const ids: number[] = [];
  for (const message of messages) {
    ids.push(IM_START_ID);
    tokenizeInto(message.role, ids);
    ids.push(NEWLINE_ID);
    tokenizeInto(messageText(message.content), ids);
    ids.push(IM_END_ID, NEWLINE_ID);
  }
  if (addGenerationPrompt) {
    ids.push(IM_START_ID);
    tokenizeInto('assistant', ids);
    ids.push(NEWLINE_ID);
  }
  return ids;
}

export function isChatMessageList(value: unknown): value is ChatMessageInput[] {
  return (
    Array.isArray(value) &&
    value.every((m) => typeof m === 'object' && m !== null && typeof (m as { role?: unknown }).role === 'string')
  );
}
