import { randomBytes } from 'node:crypto';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJaeger, type Jaeger } from '../../helpers/jaeger.js';
import { startSimulatorProcess, type SimulatorProcess } from '../../helpers/processes.js';
import { startTracedGateway, type TracedGateway } from './traced-gateway.js';

/**
 * The whole chain as real processes: Jaeger v2, the simulator exporting vLLM's `llm_request`
 * span, Tollbooth exporting over OTLP/HTTP, and the official OpenAI SDK as the client. Each trace
 * is read back through Jaeger's query API. Skipped only when Jaeger cannot be built here (the
 * harness prints why).
 */

interface OtlpValue {
  stringValue?: string;
  intValue?: string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: OtlpValue }[];
  events?: { name: string; timeUnixNano: string; attributes?: { key: string; value: OtlpValue }[] }[];
  status?: { code?: number };
}

interface FoundSpan {
  readonly span: OtlpSpan;
  readonly service: string | undefined;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_ERROR = 2;
const MODEL = 'llama-3-8b';

function spansOf(document: unknown): FoundSpan[] {
  const trace = document as { resourceSpans?: { resource?: { attributes?: { key: string; value: OtlpValue }[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
  return (trace.resourceSpans ?? []).flatMap((resource) => {
    const service = resource.resource?.attributes?.find((attribute) => attribute.key === 'service.name')?.value.stringValue;
    return (resource.scopeSpans ?? []).flatMap((scope) => (scope.spans ?? []).map((span) => ({ span, service })));
  });
}

function valueOf(value: OtlpValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

function attributesOf(list: { key: string; value: OtlpValue }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

function only(spans: FoundSpan[], name: string): FoundSpan {
  const found = spans.filter((entry) => entry.span.name === name);
  if (found.length !== 1) throw new Error(`expected one "${name}" span, found ${found.length}: ${spans.map((entry) => entry.span.name).join(', ')}`);
  return found[0]!;
}

function nanos(text: string): bigint {
  return BigInt(text);
}

describe('a request traced end to end in a real Jaeger', () => {
  let jaeger: Jaeger;
  let sim: SimulatorProcess;
  let gateway: TracedGateway;
  let client: OpenAI;

  beforeAll(async () => {
    jaeger = await startJaeger();
    sim = await startSimulatorProcess({ models: [MODEL], otlpTracesEndpoint: jaeger.otlpHttpEndpoint, prefillBaseMs: 20, interTokenMs: 3 });
    gateway = await startTracedGateway(
      { replicas: [{ name: 'sim-a', url: sim.url, models: [MODEL] }] },
      { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_SCHEDULE_DELAY: '50' },
    );
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'not-needed-auth-is-off', maxRetries: 0 });
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await sim?.stop();
    await jaeger?.stop();
  });

  it('streams: client parent → Tollbooth SERVER → chat CLIENT → the simulator llm_request, with GenAI attributes and the TTFT event', async () => {
    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    const stream = await client.chat.completions.create(
      { model: MODEL, stream: true, max_tokens: 12, temperature: 0.7, messages: [{ role: 'user', content: 'Tell me about tracing.' }] },
      { headers: { traceparent: `00-${traceId}-${clientSpanId}-01`, 'x-session-id': 'e2e-conversation' } },
    );
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);

    const spans = spansOf(await jaeger.trace(traceId, { minSpans: 3, timeoutMs: 15_000 }));
    const server = only(spans, 'POST /v1/chat/completions');
    const attempt = only(spans, `chat ${MODEL}`);
    const engine = only(spans, 'llm_request');

    expect(server.service).toBe('tollbooth');
    expect(server.span.kind).toBe(SPAN_KIND_SERVER);
    expect(server.span.parentSpanId).toBe(clientSpanId);
    expect(attempt.service).toBe('tollbooth');
    expect(attempt.span.kind).toBe(SPAN_KIND_CLIENT);
    expect(attempt.span.parentSpanId).toBe(server.span.spanId);
    expect(engine.service).toBe('vllm-simulator');
    expect(engine.span.kind).toBe(SPAN_KIND_SERVER);
    expect(engine.span.parentSpanId).toBe(attempt.span.spanId);

    // The tree nests in time too: the engine's work inside the attempt, the attempt inside the request.
    expect(nanos(attempt.span.startTimeUnixNano)).toBeGreaterThanOrEqual(nanos(server.span.startTimeUnixNano));
    expect(nanos(attempt.span.endTimeUnixNano)).toBeLessThanOrEqual(nanos(server.span.endTimeUnixNano));

    const attributes = attributesOf(attempt.span.attributes);
    expect(attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'vllm',
      'gen_ai.request.model': MODEL,
      'gen_ai.request.stream': true,
      'gen_ai.request.max_tokens': 12,
      'gen_ai.request.temperature': 0.7,
      'gen_ai.response.model': MODEL,
      'gen_ai.conversation.id': 'e2e-conversation',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(sim.url).port),
      'tollbooth.routing.replica': 'sim-a',
    });
    expect(attributes['gen_ai.response.id']).toEqual(expect.any(String));
    expect(attributes['gen_ai.response.finish_reasons']).toEqual([expect.any(String)]);
    expect(attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(attributes['error.type']).toBeUndefined();

    const events = attempt.span.events ?? [];
    expect(events.map((event) => event.name)).toEqual(['gen_ai.first_token']);
    const ttft = attributesOf(events[0]!.attributes);
    expect(ttft['tollbooth.ttft_ms']).toBeGreaterThan(0);
    expect(ttft['tollbooth.upstream_ttft_ms']).toBeGreaterThan(0);
    const eventAt = nanos(events[0]!.timeUnixNano);
    expect(eventAt).toBeGreaterThan(nanos(attempt.span.startTimeUnixNano));
    expect(eventAt).toBeLessThan(nanos(attempt.span.endTimeUnixNano));
    // The event sits at arrival + TTFT on the gateway's clock (to the microsecond the export keeps).
    const expectedAt = nanos(server.span.startTimeUnixNano) + BigInt(Math.round((ttft['tollbooth.ttft_ms'] as number) * 1e6));
    expect(Number(eventAt - expectedAt) / 1e6).toBeCloseTo(0, 2);

    expect(attributesOf(server.span.attributes)).toMatchObject({ 'http.response.status_code': 200, 'tollbooth.outcome': 'success', 'http.route': '/v1/chat/completions' });
  });

  it('a failing request: the error body names its trace, and the trace shows the failed attempt', async () => {
    const failure = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'fail, please' }] }, { headers: { 'x-sim-fault': 'error:500' } })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(APIError);
    const apiError = failure as APIError;
    expect(apiError.status).toBe(500);
    const traceId = (apiError.error as { trace_id?: string } | undefined)?.trace_id;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(apiError.headers?.get('traceresponse')).toContain(traceId!);

    const spans = spansOf(await jaeger.trace(traceId!, { minSpans: 2, timeoutMs: 15_000 }));
    const server = only(spans, 'POST /v1/chat/completions');
    const attempt = only(spans, `chat ${MODEL}`);
    expect(server.span.parentSpanId ?? '').toBe('');
    expect(attempt.span.parentSpanId).toBe(server.span.spanId);
    expect(attributesOf(attempt.span.attributes)).toMatchObject({ 'error.type': 'upstream_http_500', 'http.response.status_code': 500 });
    expect(attempt.span.status?.code).toBe(STATUS_ERROR);
    expect(attributesOf(server.span.attributes)).toMatchObject({ 'error.type': 'upstream_http_500', 'http.response.status_code': 500 });
    expect(server.span.status?.code).toBe(STATUS_ERROR);
  });

  it('exports over OTLP/gRPC as well (OTEL_EXPORTER_OTLP_PROTOCOL=grpc)', async () => {
    const grpcGateway = await startTracedGateway(
      { replicas: [{ name: 'sim-a', url: sim.url, models: [MODEL] }] },
      { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'tollbooth-grpc' },
    );
    try {
      const traceId = randomBytes(16).toString('hex');
      const grpcClient = new OpenAI({ baseURL: `${grpcGateway.url}/v1`, apiKey: 'not-needed-auth-is-off', maxRetries: 0 });
      const completion = await grpcClient.chat.completions.create(
        { model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } },
      );
      expect(completion.choices).toHaveLength(1);
      const spans = spansOf(await jaeger.trace(traceId, { minSpans: 3, timeoutMs: 15_000 }));
      const attempt = only(spans, `chat ${MODEL}`);
      expect(only(spans, 'POST /v1/chat/completions').service).toBe('tollbooth-grpc');
      expect(only(spans, 'llm_request').span.parentSpanId).toBe(attempt.span.spanId);
      expect(attributesOf(attempt.span.attributes)).toMatchObject({ 'gen_ai.request.stream': false, 'gen_ai.usage.output_tokens': expect.any(Number) });
    } finally {
      await grpcGateway.stop();
    }
  });
});
