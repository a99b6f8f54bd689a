/**
 * SSE frames in vLLM's exact byte shape, built by splicing per-request constant strings around
 * the JSON-escaped token text, so the per-chunk cost is a few string concatenations instead of
 * a JSON.stringify of a whole object. Field order follows vLLM's pydantic models (chat chunks are
 * dumped with exclude_unset, the usage chunk additionally with exclude_none).
 */

export type StreamKind = 'chat' | 'completion';

export interface FrameHeader {
  id: string;
  created: number;
  model: string;
}

export interface UsageCounts {
  promptTokens: number;
  completionTokens: number;
  /** Present only when the simulator reports prompt_tokens_details. */
  cachedTokens: number | null;
}

export const DONE_FRAME = 'data: [DONE]\n\n';

/** `"usage":{...}` in UsageInfo's field order: prompt, total, completion, details. */
export function usageJson(usage: UsageCounts): string {
  const { promptTokens, completionTokens, cachedTokens } = usage;
  const details = cachedTokens === null ? '' : `,"prompt_tokens_details":{"cached_tokens":${cachedTokens}}`;
  return `"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens + completionTokens},"completion_tokens":${completionTokens}${details}}`;
}

export class StreamFramer {
  /** `data: {"id":…,"object":…,"created":…,"model":…,"choices":[` */
  private readonly head: string;
  /** Opening of a content choice up to the text, per choice index. */
  private readonly contentOpen: string[] = [];
  private readonly openChunkTail: string;
  private readonly contentClose: string;
  private readonly finalCloseStart: string;
  private readonly finalCloseEnd: string;

  constructor(
    readonly kind: StreamKind,
    header: FrameHeader,
    choiceCount: number,
    private readonly continuousUsage: boolean,
  ) {
    const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    this.head = `data: {"id":${JSON.stringify(header.id)},"object":"${object}","created":${header.created},"model":${JSON.stringify(header.model)},"choices":[`;
    for (let index = 0; index < choiceCount; index++) {
      this.contentOpen.push(
        kind === 'chat' ? `{"index":${index},"delta":{"content":"` : `{"index":${index},"text":"`,
      );
    }
    // vLLM sets prompt_token_ids explicitly (to null unless return_token_ids) on the role chunk only.
    this.openChunkTail = '"prompt_token_ids":null}\n\n';
    if (kind === 'chat') {
      this.contentClose = '"},"logprobs":null,"finish_reason":null,"token_ids":null}]';
      this.finalCloseStart = '"},"logprobs":null,"finish_reason":"';
      this.finalCloseEnd = '","stop_reason":null,"token_ids":null}]';
    } else {
      this.contentClose = '","logprobs":null,"finish_reason":null,"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]';
      this.finalCloseStart = '","logprobs":null,"finish_reason":"';
      this.finalCloseEnd = '","stop_reason":null,"prompt_token_ids":null,"token_ids":null}]';
    }
  }

  private tail(usage: UsageCounts | null): string {
    return this.continuousUsage && usage !== null ? `,${usageJson(usage)}}\n\n` : '}\n\n';
  }

  /** Chat only: the first chunk, `delta: {"role":"assistant","content":""}`. Null for completions. */
  roleChunk(index: number, usage: UsageCounts | null): string | null {
    if (this.kind !== 'chat') return null;
    const choice = `{"index":${index},"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`;
    const usagePart = this.continuousUsage && usage !== null ? `,${usageJson(usage)}` : '';
    return `${this.head}${choice}${usagePart},${this.openChunkTail}`;
  }

  /** A content chunk; `textJson` must already be JSON-escaped (no quotes). */
  content(index: number, textJson: string, usage: UsageCounts | null): string {
    return this.head + (this.contentOpen[index] as string) + textJson + this.contentClose + this.tail(usage);
  }

  /** The last content chunk of a choice, carrying finish_reason and stop_reason. */
  final(index: number, textJson: string, finishReason: string, usage: UsageCounts | null): string {
    return (
      this.head + (this.contentOpen[index] as string) + textJson + this.finalCloseStart + finishReason + this.finalCloseEnd + this.tail(usage)
    );
  }

  /** The `include_usage` frame: `"choices":[]` plus the totals. */
  usage(usage: UsageCounts): string {
    return `${this.head}],${usageJson(usage)}}\n\n`;
  }
}
