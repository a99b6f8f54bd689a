import type { IncomingHttpHeaders } from 'node:http';

import type { JsonObject } from './request-fields.js';

/**
 * The `llm_request` span vLLM exports per finished request when started with
 * `--otlp-traces-endpoint` (vllm/v1/engine/output_processor.py, `do_tracing`): a SERVER span from
 * the request's arrival to its end, parented on the inbound `traceparent`, with vLLM's own
 * `gen_ai.*` names (vllm/tracing.py, SpanAttributes). Latencies are seconds, as in vLLM.
 * Pure: the exporter (span-export.ts) turns this description into an OpenTelemetry span.
 */
export const LLM_REQUEST_SPAN_NAME = 'llm_request';

export const LlmRequestAttribute = {
  requestId: 'gen_ai.request.id',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  requestN: 'gen_ai.request.n',
  usagePromptTokens: 'gen_ai.usage.prompt_tokens',
  usageCompletionTokens: 'gen_ai.usage.completion_tokens',
  timeToFirstToken: 'gen_ai.latency.time_to_first_token',
  e2e: 'gen_ai.latency.e2e',
  timeInQueue: 'gen_ai.latency.time_in_queue',
  timeInModelPrefill: 'gen_ai.latency.time_in_model_prefill',
  timeInModelDecode: 'gen_ai.latency.time_in_model_decode',
  timeInModelInference: 'gen_ai.latency.time_in_model_inference',
} as const;

/** The W3C trace-context headers a request arrived with (vLLM forwards exactly these two). */
export interface InboundTraceHeaders {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

export function inboundTraceHeaders(headers: IncomingHttpHeaders): InboundTraceHeaders {
  const traceparent = headers.traceparent;
  const tracestate = headers.tracestate;
  return {
    ...(typeof traceparent === 'string' ? { traceparent } : {}),
    ...(typeof tracestate === 'string' ? { tracestate } : {}),
  };
}

/** The sampling parameters vLLM puts on the span, as the engine saw them. */
export interface SpanSamplingParams {
  /** The output cap in force: the request's, else the default the server filled in (as vLLM does). */
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP: number;
  readonly n: number;
}

/** vLLM's SamplingParams defaults for the fields a request leaves out. */
const DEFAULT_TEMPERATURE = 1;
const DEFAULT_TOP_P = 1;

export function spanSamplingParams(json: JsonObject, maxTokens: number, n: number): SpanSamplingParams {
  const temperature = json['temperature'];
  const topP = json['top_p'];
  return {
    maxTokens,
    temperature: typeof temperature === 'number' ? temperature : DEFAULT_TEMPERATURE,
    topP: typeof topP === 'number' ? topP : DEFAULT_TOP_P,
    n,
  };
}

/** What the simulator knows about a finished request; epoch ms with sub-ms precision. */
export interface FinishedRequestTiming {
  /** vLLM's external request id: `chatcmpl-…` / `cmpl-…`, the id of the response body. */
  readonly responseId: string;
  readonly receivedAt: number;
  /** Admission by the scheduler (vLLM's scheduled_ts); the wait before it is the queue time. */
  readonly admittedAt: number;
  readonly firstTokenAt: number;
  readonly lastTokenAt: number;
  readonly finishedAt: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly sampling: SpanSamplingParams;
}

export type SpanAttributeValue = string | number;

export interface LlmRequestSpan {
  readonly name: typeof LLM_REQUEST_SPAN_NAME;
  readonly startTimeMs: number;
  readonly endTimeMs: number;
  readonly attributes: Readonly<Record<string, SpanAttributeValue>>;
}

const seconds = (ms: number): number => ms / 1000;

export function llmRequestSpan(timing: FinishedRequestTiming): LlmRequestSpan {
  const attributes: Record<string, SpanAttributeValue> = {
    [LlmRequestAttribute.timeToFirstToken]: seconds(timing.firstTokenAt - timing.receivedAt),
    [LlmRequestAttribute.e2e]: seconds(timing.finishedAt - timing.receivedAt),
    [LlmRequestAttribute.timeInQueue]: seconds(timing.admittedAt - timing.receivedAt),
    [LlmRequestAttribute.usagePromptTokens]: timing.promptTokens,
    [LlmRequestAttribute.usageCompletionTokens]: timing.completionTokens,
    [LlmRequestAttribute.timeInModelPrefill]: seconds(timing.firstTokenAt - timing.admittedAt),
    [LlmRequestAttribute.timeInModelDecode]: seconds(timing.lastTokenAt - timing.firstTokenAt),
    [LlmRequestAttribute.timeInModelInference]: seconds(timing.lastTokenAt - timing.admittedAt),
    [LlmRequestAttribute.requestId]: timing.responseId,
  };
  // vLLM sets these only when truthy (a temperature of 0 is left out).
  const { sampling } = timing;
  if (sampling.topP !== 0) attributes[LlmRequestAttribute.requestTopP] = sampling.topP;
  if (sampling.maxTokens !== 0) attributes[LlmRequestAttribute.requestMaxTokens] = sampling.maxTokens;
  if (sampling.temperature !== 0) attributes[LlmRequestAttribute.requestTemperature] = sampling.temperature;
  if (sampling.n !== 0) attributes[LlmRequestAttribute.requestN] = sampling.n;
  return { name: LLM_REQUEST_SPAN_NAME, startTimeMs: timing.receivedAt, endTimeMs: timing.finishedAt, attributes };
}

/**
 * The OTLP/HTTP traces URL for `--otlp-traces-endpoint`. vLLM passes the value to the Python
 * exporter as is; here a bare base such as http://jaeger:4318 also works, completed with the
 * standard /v1/traces path.
 */
export function otlpTracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}
