/**
 * The inference endpoints the gateway routes by `model`. Everything else under /v1 passes
 * through to a replica (by model when the body names one). `operation` follows the
 * OpenTelemetry GenAI operation names, for spans and metrics later.
 */
export type BodyKind = 'json' | 'multipart';

export interface InferenceEndpoint {
  readonly path: string;
  readonly operation: string;
  readonly body: BodyKind;
  /** OpenAI requires `model` here; vLLM's own extras (tokenize, rerank, score) default it. */
  readonly modelRequired: boolean;
}

export const INFERENCE_ENDPOINTS: readonly InferenceEndpoint[] = [
  { path: '/v1/chat/completions', operation: 'chat', body: 'json', modelRequired: true },
  { path: '/v1/completions', operation: 'text_completion', body: 'json', modelRequired: true },
  { path: '/v1/embeddings', operation: 'embeddings', body: 'json', modelRequired: true },
  { path: '/v1/responses', operation: 'chat', body: 'json', modelRequired: true },
  { path: '/v1/rerank', operation: 'rerank', body: 'json', modelRequired: false },
  { path: '/v1/score', operation: 'score', body: 'json', modelRequired: false },
  { path: '/tokenize', operation: 'tokenize', body: 'json', modelRequired: false },
  { path: '/detokenize', operation: 'detokenize', body: 'json', modelRequired: false },
  { path: '/v1/audio/transcriptions', operation: 'transcription', body: 'multipart', modelRequired: true },
  { path: '/v1/audio/translations', operation: 'translation', body: 'multipart', modelRequired: true },
];
