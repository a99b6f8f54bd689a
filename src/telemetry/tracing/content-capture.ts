import type { ServerResponse } from 'node:http';
import type { RequestObservation } from '../../lifecycle/observation.js';

/**
 * Prompt and completion text for the upstream span, only with `tracing.captureContent` (opt-in:
 * prompts hold whatever users typed). The prompt is the request body's messages as the client
 * sent them; the completion is read back from the response bytes the client received, kept up to
 * a bound by a copy of the response's writes. That copy exists only for a sampled request of a
 * gateway with capture on: without it, the relay path carries no tracing work at all.
 */
export class ContentCapture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  constructor(
    response: ServerResponse,
    private readonly limitChars: number,
    /** Masks personal data (guardrails.pii.kinds) before the text reaches a span; undefined: kept as it is. */
    private readonly mask?: ((text: string) => string) | undefined,
  ) {
    const byteLimit = limitChars * 4 + 64 * 1024;
    const keep = (chunk: unknown): void => {
      if (this.bytes >= byteLimit || chunk === undefined || chunk === null || typeof chunk === 'function') return;
      const buffer = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk) : undefined;
      if (buffer === undefined) return;
      const kept = buffer.length <= byteLimit - this.bytes ? buffer : buffer.subarray(0, byteLimit - this.bytes);
      this.chunks.push(Buffer.from(kept));
      this.bytes += kept.length;
    };
    const write = response.write;
    const end = response.end;
    response.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      keep(chunk);
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as ServerResponse['write'];
    response.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      keep(chunk);
      return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as ServerResponse['end'];
  }

  /** gen_ai.input.messages: chat messages, a completion prompt, or a Responses input, as JSON text. */
  input(observation: RequestObservation): string | undefined {
    const json = observation.requestJson as Record<string, unknown> | undefined;
    if (typeof json !== 'object' || json === null) return undefined;
    const input = json.messages ?? json.prompt ?? json.input;
    if (input === undefined) return undefined;
    try {
      return this.cut(JSON.stringify(typeof input === 'string' ? [{ role: 'user', content: input }] : input));
    } catch {
      // JSON.stringify recurses: a client's input nested deeper than the stack is left out of the span.
      return undefined;
    }
  }

  /** gen_ai.output.messages: the assistant text of each choice, from the SSE events or the JSON body the client received. */
  output(observation: RequestObservation): string | undefined {
    if (this.bytes === 0) return undefined;
    const body = Buffer.concat(this.chunks, this.bytes).toString('utf8');
    const texts: string[] = [];
    if (observation.streamFacts !== undefined) {
      for (const line of body.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '' || data === '[DONE]') continue;
        collectChoices(parseJson(data), texts, 'delta');
      }
    } else {
      collectChoices(parseJson(body), texts, 'message');
    }
    if (texts.length === 0) return undefined;
    return this.cut(JSON.stringify(texts.map((content) => ({ role: 'assistant', content }))));
  }

  /** Masked first, then cut: a cut never leaves half of an address or card number unmasked. */
  private cut(text: string): string {
    const shown = this.mask === undefined ? text : this.mask(text);
    return shown.length <= this.limitChars ? shown : `${shown.slice(0, this.limitChars)}…`;
  }
}

/** Appends each choice's text (chat `delta.content` / `message.content`, completions `text`) to texts[choice.index]. */
function collectChoices(value: unknown, texts: string[], field: 'delta' | 'message'): void {
  const choices = (value as { choices?: unknown } | undefined)?.choices;
  if (!Array.isArray(choices)) return;
  for (const choice of choices as Array<Record<string, unknown>>) {
    const index = typeof choice.index === 'number' ? choice.index : 0;
    const part = choice[field] as { content?: unknown } | undefined;
    const text = typeof part?.content === 'string' ? part.content : typeof choice.text === 'string' ? choice.text : undefined;
    if (text !== undefined) texts[index] = (texts[index] ?? '') + text;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
