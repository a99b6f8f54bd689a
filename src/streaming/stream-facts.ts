export interface StreamUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedPromptTokens: number | undefined;
}

export interface InBandError {
  message: string;
  type: string | null;
  code: string | number | null;
}

/** What the tap learned from one stream. Times are the `now` values passed to `process`. */
export interface StreamFacts {
  /** Arrival time of the chunk that completed the first content-bearing event. */
  firstContentAt: number | undefined;
  /** Arrival time of the last content-bearing event. */
  lastContentAt: number | undefined;
  /** Content-bearing events seen (a chunk is not a token). */
  contentEvents: number;
  /**
   * Characters of generated text in those events (content, reasoning, tool-call arguments), for
   * the output estimate when usage never comes. Exact for the events the tap locates the text of
   * (every content event of an ordinary stream); an event whose text it does not locate without a
   * parse (a tool-call delta after the first content) adds 0, and the estimate counts it as one token.
   */
  contentCharacters: number;
  /** Gap between consecutive content-bearing events (0 when two arrive in one chunk). */
  chunkGapsMs: number[];
  /** Non-null finish_reason values in the order seen (one per choice). */
  finishReasons: string[];
  /** From the usage-bearing event (last one wins, for continuous_usage_stats). */
  usage: StreamUsage | undefined;
  /** An in-band `data: {"error":…}` event (the first one). */
  error: InBandError | undefined;
  /** Saw `data: [DONE]`. */
  done: boolean;
  /** `id` of the first parsed event that has one. */
  responseId: string | undefined;
  /** `model` of the first parsed event that has one. */
  responseModel: string | undefined;
}

export function createStreamFacts(): StreamFacts {
  return {
    firstContentAt: undefined,
    lastContentAt: undefined,
    contentEvents: 0,
    contentCharacters: 0,
    chunkGapsMs: [],
    finishReasons: [],
    usage: undefined,
    error: undefined,
    done: false,
    responseId: undefined,
    responseModel: undefined,
  };
}
