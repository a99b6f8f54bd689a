import { describe, expect, it } from 'vitest';

import { simulatorOptionsFromArgs } from '../../../src/sim/cli.js';
import { simulatorOptionsSchema } from '../../../src/sim/options.js';
import {
  inboundTraceHeaders,
  llmRequestSpan,
  LlmRequestAttribute,
  otlpTracesUrl,
  spanSamplingParams,
  type FinishedRequestTiming,
} from '../../../src/sim/request-span.js';

const timing: FinishedRequestTiming = {
  responseId: 'chatcmpl-abc',
  receivedAt: 1_700_000_000_000.25,
  admittedAt: 1_700_000_000_004.25,
  firstTokenAt: 1_700_000_000_024.25,
  lastTokenAt: 1_700_000_000_124.25,
  finishedAt: 1_700_000_000_125.25,
  promptTokens: 12,
  completionTokens: 10,
  sampling: { maxTokens: 64, temperature: 0.7, topP: 1, n: 1 },
};

describe('the llm_request span', () => {
  it('spans arrival to finish with vLLM latency attributes in seconds', () => {
    const span = llmRequestSpan(timing);
    expect(span.name).toBe('llm_request');
    expect(span.startTimeMs).toBe(timing.receivedAt);
    expect(span.endTimeMs).toBe(timing.finishedAt);
    const a = span.attributes;
    expect(a[LlmRequestAttribute.timeToFirstToken]).toBeCloseTo(0.024, 9);
    expect(a[LlmRequestAttribute.e2e]).toBeCloseTo(0.125, 9);
    expect(a[LlmRequestAttribute.timeInQueue]).toBeCloseTo(0.004, 9);
    expect(a[LlmRequestAttribute.timeInModelPrefill]).toBeCloseTo(0.02, 9);
    expect(a[LlmRequestAttribute.timeInModelDecode]).toBeCloseTo(0.1, 9);
    expect(a[LlmRequestAttribute.timeInModelInference]).toBeCloseTo(0.12, 9);
    expect(a).toMatchObject({
      'gen_ai.request.id': 'chatcmpl-abc',
      'gen_ai.usage.prompt_tokens': 12,
      'gen_ai.usage.completion_tokens': 10,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.temperature': 0.7,
      'gen_ai.request.top_p': 1,
      'gen_ai.request.n': 1,
    });
  });

  it('leaves out falsy sampling parameters, as vLLM does', () => {
    const span = llmRequestSpan({ ...timing, sampling: { maxTokens: 64, temperature: 0, topP: 0.9, n: 1 } });
    expect(span.attributes).not.toHaveProperty('gen_ai.request.temperature');
    expect(span.attributes['gen_ai.request.top_p']).toBe(0.9);
  });

  it("takes temperature and top_p from the body, vLLM's defaults otherwise", () => {
    expect(spanSamplingParams({ temperature: 0.2, top_p: 0.5 }, 10, 2)).toEqual({ maxTokens: 10, temperature: 0.2, topP: 0.5, n: 2 });
    expect(spanSamplingParams({ temperature: 'hot' }, 10, 1)).toEqual({ maxTokens: 10, temperature: 1, topP: 1, n: 1 });
  });

  it('reads only the W3C trace-context headers', () => {
    expect(inboundTraceHeaders({ traceparent: '00-a-b-01', tracestate: 'k=v', 'x-other': 'y' })).toEqual({ traceparent: '00-a-b-01', tracestate: 'k=v' });
    expect(inboundTraceHeaders({})).toEqual({});
  });
});

describe('--otlp-traces-endpoint', () => {
  it('completes a bare OTLP/HTTP base with /v1/traces and keeps a full URL', () => {
    expect(otlpTracesUrl('http://jaeger:4318')).toBe('http://jaeger:4318/v1/traces');
    expect(otlpTracesUrl('http://jaeger:4318/')).toBe('http://jaeger:4318/v1/traces');
    expect(otlpTracesUrl('https://collector.example/otlp/v1/traces')).toBe('https://collector.example/otlp/v1/traces');
  });

  it('is the CLI flag vLLM uses, validated as an http(s) URL; unset by default', async () => {
    expect(await simulatorOptionsFromArgs(['--otlp-traces-endpoint', 'http://127.0.0.1:4318'])).toMatchObject({
      otlpTracesEndpoint: 'http://127.0.0.1:4318',
    });
    await expect(simulatorOptionsFromArgs(['--otlp-traces-endpoint', 'jaeger:4317'])).rejects.toThrow(/http\(s\) URL/);
    expect(simulatorOptionsSchema.parse({}).otlpTracesEndpoint).toBeUndefined();
    expect(simulatorOptionsSchema.parse({}).otlpServiceName).toBe('vllm-simulator');
  });
});
