import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningSimulator } from '../../../src/sim/index.js';
import { runCli } from '../../helpers/cli.js';
import { startJaeger, type Jaeger } from '../../helpers/jaeger.js';
import { chatBody, fastSimulator, postJson } from '../../integration/sim/sim-test-helpers.js';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string; doubleValue?: number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpAttribute[];
}
interface OtlpTrace {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const SPAN_KIND_SERVER = 2;

function spansOf(trace: unknown): { span: OtlpSpan; service: string | undefined }[] {
  return (trace as OtlpTrace).resourceSpans.flatMap((resource) => {
    const service = resource.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value.stringValue;
    return resource.scopeSpans.flatMap((scope) => scope.spans.map((span) => ({ span, service })));
  });
}

function attributes(span: OtlpSpan): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const { key, value } of span.attributes ?? []) {
    out[key] = value.stringValue ?? value.doubleValue ?? Number(value.intValue);
  }
  return out;
}

/** A fresh W3C context whose span id stands for the caller's (the gateway's) CLIENT span. */
function callerContext(sampled = true): { traceId: string; parentSpanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentSpanId = randomBytes(8).toString('hex');
  return { traceId, parentSpanId, traceparent: `00-${traceId}-${parentSpanId}-${sampled ? '01' : '00'}` };
}

const epochMsOf = (unixNano: string): number => Number(BigInt(unixNano) / 1000n) / 1000;

async function traceStatus(jaeger: Jaeger, traceId: string): Promise<number> {
  const response = await fetch(`${jaeger.queryUrl}/api/v3/traces/${traceId}`);
  await response.body?.cancel();
  return response.status;
}

describe('the simulator exports an llm_request span like vLLM', () => {
  let jaeger: Jaeger;
  let sim: RunningSimulator;
  beforeAll(async () => {
    jaeger = await startJaeger();
    sim = await fastSimulator({ otlpTracesEndpoint: jaeger.otlpHttpEndpoint, prefillBaseMs: 5, interTokenMs: 2 });
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
    await jaeger?.stop();
  });

  it('streams: a SERVER span under the caller, from arrival to finish, with the gen_ai attributes', async () => {
    const caller = callerContext();
    const response = await postJson(sim, '/v1/chat/completions', chatBody({ stream: true, temperature: 0.5, max_tokens: 40 }), {
      traceparent: caller.traceparent,
      tracestate: 'tollbooth=test',
      'x-request-id': 'span-stream-1',
      'x-sim-tokens': '6',
    });
    await response.text();
    const truth = await sim.truth.waitFor('span-stream-1');

    const spans = spansOf(await jaeger.trace(caller.traceId));
    expect(spans).toHaveLength(1);
    const [{ span, service }] = spans as [{ span: OtlpSpan; service: string | undefined }];
    expect(service).toBe('vllm-simulator');
    expect(span).toMatchObject({ name: 'llm_request', kind: SPAN_KIND_SERVER, traceId: caller.traceId, parentSpanId: caller.parentSpanId, traceState: 'tollbooth=test' });
    expect(epochMsOf(span.startTimeUnixNano)).toBeCloseTo(truth.receivedAt, 2);
    expect(epochMsOf(span.endTimeUnixNano)).toBeCloseTo(truth.finishedAt as number, 2);

    const a = attributes(span);
    expect(a).toMatchObject({
      'gen_ai.request.id': 'chatcmpl-span-stream-1',
      'gen_ai.usage.prompt_tokens': truth.promptTokens,
      'gen_ai.usage.completion_tokens': 6,
      'gen_ai.request.max_tokens': 40,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.top_p': 1,
      'gen_ai.request.n': 1,
    });
    const firstTokenAt = truth.firstTokenAt as number;
    const lastTokenAt = truth.chunkTimes.at(-1) as number;
    expect(a['gen_ai.latency.time_to_first_token']).toBeCloseTo((firstTokenAt - truth.receivedAt) / 1000, 6);
    expect(a['gen_ai.latency.e2e']).toBeCloseTo(((truth.finishedAt as number) - truth.receivedAt) / 1000, 6);
    expect(a['gen_ai.latency.time_in_model_decode']).toBeCloseTo((lastTokenAt - firstTokenAt) / 1000, 6);
    expect(a['gen_ai.latency.time_in_queue']).toBeGreaterThanOrEqual(0);
    expect(a['gen_ai.latency.time_in_model_prefill']).toBeGreaterThanOrEqual(0.004);
  });

  it('non-streaming requests get one too', async () => {
    const caller = callerContext();
    const response = await postJson(sim, '/v1/completions', { prompt: 'the gateway', max_tokens: 5 }, { traceparent: caller.traceparent, 'x-request-id': 'span-plain-1' });
    expect(response.status).toBe(200);
    await response.text();
    const [entry] = spansOf(await jaeger.trace(caller.traceId));
    expect(entry?.span).toMatchObject({ name: 'llm_request', parentSpanId: caller.parentSpanId });
    expect(attributes(entry?.span as OtlpSpan)).toMatchObject({ 'gen_ai.request.id': 'cmpl-span-plain-1', 'gen_ai.usage.completion_tokens': 5 });
  });

  it('exports nothing for an unsampled caller or a request that failed before generating', async () => {
    const unsampled = callerContext(false);
    const failed = callerContext();
    const marker = callerContext();
    await (await postJson(sim, '/v1/chat/completions', chatBody(), { traceparent: unsampled.traceparent })).text();
    const faulted = await postJson(sim, '/v1/chat/completions', chatBody(), { traceparent: failed.traceparent, 'x-sim-fault': 'error:503' });
    expect(faulted.status).toBe(503);
    await faulted.text();
    await (await postJson(sim, '/v1/chat/completions', chatBody(), { traceparent: marker.traceparent })).text();
    // Spans leave in finishing order, so once the last request's span is in, earlier ones would be too.
    await jaeger.trace(marker.traceId);
    expect(await traceStatus(jaeger, unsampled.traceId)).toBe(404);
    expect(await traceStatus(jaeger, failed.traceId)).toBe(404);
  });
});

describe('tollbooth sim --otlp-traces-endpoint', () => {
  it('makes the simulator process export its spans to the endpoint', async () => {
    const jaeger = await startJaeger();
    const cli = runCli(['sim', '--ttft-ms', '1', '--itl-ms', '0', '--otlp-traces-endpoint', jaeger.otlpHttpEndpoint]);
    try {
      const { url } = JSON.parse(await cli.waitForLine(/vLLM simulator listening/)) as { url: string };
      const caller = callerContext();
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: caller.traceparent },
        body: JSON.stringify(chatBody({ stream: true })),
      });
      await response.text();
      const [entry] = spansOf(await jaeger.trace(caller.traceId));
      expect(entry?.span).toMatchObject({ name: 'llm_request', kind: SPAN_KIND_SERVER, parentSpanId: caller.parentSpanId });
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited();
      await jaeger.stop();
    }
  }, 30_000);
});
