import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useSpanPipeline } from '../../../src/telemetry/tracing/span-pipeline.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { inMemoryTracing, parentIdOf, spanNamed } from './in-memory-tracing.js';

/**
 * Context propagation through a real gateway on real sockets: the client's traceparent in, the
 * attempt span's traceparent out to a node:http server standing in for vLLM, and the trace id
 * named in the response (header, error bodies, access log).
 */

const { exporter, provider, pipeline } = inMemoryTracing();
const CLIENT_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN_ID = 'b7ad6b7169203331';

/** Headers of every chat request the fake replica received. */
const received: IncomingHttpHeaders[] = [];
let upstream: Server;
let gateway: TestGateway;
let upstreamUrl: string;

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

beforeAll(async () => {
  upstream = createServer((request, response) => {
    if (request.url === '/health') return void response.end();
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      response.statusCode = 404;
      return void response.end();
    }
    received.push(request.headers);
    request.resume();
    request.once('end', () => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(sse({ id: 'chatcmpl-9', model: 'llama-3-8b', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' } }] }));
      setTimeout(() => {
        response.write(sse({ id: 'chatcmpl-9', model: 'llama-3-8b', choices: [{ index: 0, delta: { content: ' there' }, finish_reason: 'stop' }] }));
        response.write(sse({ id: 'chatcmpl-9', model: 'llama-3-8b', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }));
        response.end('data: [DONE]\n\n');
      }, 5);
    });
  });
  await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  useSpanPipeline(pipeline);
  gateway = await startTestGateway({
    replicas: [
      { name: 'up', url: upstreamUrl, models: ['llama-3-8b'] },
      // Nothing listens on port 9 of loopback: connection refused, a failover before any byte.
      { name: 'down', url: 'http://127.0.0.1:9', models: ['only-down'] },
    ],
    routing: { maxAttempts: 1 },
  });
});

afterAll(async () => {
  await gateway?.close();
  useSpanPipeline(undefined);
  await new Promise<void>((done) => upstream.close(() => done()));
  await provider.shutdown();
});

beforeEach(() => {
  exporter.reset();
  received.length = 0;
});

async function spansOf(traceId: string, count: number): Promise<ReturnType<typeof exporter.getFinishedSpans>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    if (spans.length >= count) return spans;
    if (Date.now() > deadline) throw new Error(`trace ${traceId}: ${spans.length} span(s), wanted ${count}`);
    await new Promise((wake) => setTimeout(wake, 10));
  }
}

describe('trace context through the gateway', () => {
  it('continues the client trace and hands the replica a traceparent whose parent is the attempt span', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`,
        tracestate: 'vendor=client-state',
      },
      body: JSON.stringify({ model: 'llama-3-8b', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toContain('Hi');

    const spans = await spansOf(CLIENT_TRACE_ID, 2);
    const server = spanNamed(spans, 'POST /v1/chat/completions');
    const attempt = spanNamed(spans, 'chat llama-3-8b');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentIdOf(server)).toBe(CLIENT_SPAN_ID);
    expect(parentIdOf(attempt)).toBe(server.spanContext().spanId);

    expect(received).toHaveLength(1);
    expect(received[0]!.traceparent).toBe(`00-${CLIENT_TRACE_ID}-${attempt.spanContext().spanId}-01`);
    expect(received[0]!.tracestate).toBe('vendor=client-state');
    expect(response.headers.get('traceresponse')).toBe(`00-${CLIENT_TRACE_ID}-${server.spanContext().spanId}-01`);

    // The first-token event and the usage the gateway asked for, from the real stream.
    expect(attempt.events.map((event) => event.name)).toEqual(['gen_ai.first_token']);
    expect(attempt.attributes).toMatchObject({ 'gen_ai.usage.input_tokens': 5, 'gen_ai.usage.output_tokens': 2, 'gen_ai.response.id': 'chatcmpl-9' });

    const access = await gateway.accessLineOf(response.headers.get('x-request-id')!);
    expect(access).toMatchObject({ trace_id: CLIENT_TRACE_ID, span_id: server.spanContext().spanId });
  });

  it('names the trace id in error bodies, keeping the OpenAI envelope', async () => {
    const unknownModel = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', messages: [] }),
    });
    expect(unknownModel.status).toBe(404);
    const refused = (await unknownModel.json()) as { error: Record<string, unknown> };
    const traceId = refused.error.trace_id as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(refused.error).sort()).toEqual(['code', 'message', 'param', 'trace_id', 'type']);
    expect(refused.error.code).toBe('model_not_found');
    expect(unknownModel.headers.get('traceresponse')).toContain(traceId);
    expect(spanNamed(await spansOf(traceId, 1), 'POST /v1/chat/completions').attributes['error.type']).toBe('model_not_found');

    const unreachable = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'only-down', messages: [] }),
    });
    // The replica is refused at connect (or already ejected by its probe): a 5xx either way.
    expect(unreachable.status).toBeGreaterThanOrEqual(500);
    const failure = (await unreachable.json()) as { error: Record<string, unknown> };
    expect(failure.error.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(unreachable.headers.get('traceresponse')).toContain(failure.error.trace_id as string);
  });
});
