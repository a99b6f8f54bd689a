import { IncomingMessage, ServerResponse, type IncomingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type SpanContext, type TextMapPropagator } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { Agent } from 'undici';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { UpstreamTarget } from '../../../src/proxy/upstream-exchange.js';
import { DEFAULT_CIRCUIT_SETTINGS } from '../../../src/routing/circuit-breaker.js';
import { Replica } from '../../../src/routing/replica.js';
import { createStreamFacts } from '../../../src/streaming/stream-facts.js';
import { measureRequest } from '../../../src/telemetry/measures.js';
import { createObservation, type RequestObservation } from '../../../src/lifecycle/observation.js';
import { inRequestContext } from '../../../src/lifecycle/request-listener.js';
import { createRequestTracer, RequestTracer } from '../../../src/telemetry/tracing/request-trace.js';
import { epochMs, everyAttributeValue, inMemoryTracing, parentIdOf, spanNamed } from './in-memory-tracing.js';

const { exporter, provider, pipeline } = inMemoryTracing();
const agent = new Agent();
afterAll(async () => {
  await agent.close();
  await provider.shutdown();
});
beforeEach(() => exporter.reset());

const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const API_KEY = 'tb-secret-key-0123456789abcdef';

function config(tracingSettings: Record<string, unknown> = {}, guardrails: Record<string, unknown> = {}) {
  return parseConfig({ replicas: [{ url: 'http://10.0.0.5:8000', models: ['llama-3-8b'] }], tracing: tracingSettings, guardrails, auth: { enabled: false } });
}

function tracerOf(settings: Record<string, unknown> = {}, spanPipeline = pipeline, guardrails: Record<string, unknown> = {}): RequestTracer {
  const tracer = createRequestTracer(config(settings, guardrails), spanPipeline);
  if (tracer === undefined) throw new Error('tracing should be on');
  return tracer;
}

function replica(name: string, url: string): Replica {
  return new Replica({ name, url, models: ['llama-3-8b'] }, DEFAULT_CIRCUIT_SETTINGS);
}

function target(on: Replica): UpstreamTarget {
  return { replica: on, dispatcher: agent, options: { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } } };
}

function headersOf(on: UpstreamTarget): Record<string, string> {
  return on.options.headers as Record<string, string>;
}

function rawResponse(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

const CLIENT_HEADERS: IncomingHttpHeaders = {
  traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`,
  authorization: `Bearer ${API_KEY}`,
  'x-session-id': 'conversation-42',
};

/** A streamed chat request that arrived 500 ms ago, with every fact a successful stream leaves. */
function streamedChat(t0: number): RequestObservation {
  const facts = createStreamFacts();
  Object.assign(facts, {
    firstContentAt: t0 + 40,
    lastContentAt: t0 + 140,
    contentEvents: 11,
    finishReasons: ['stop'],
    usage: { promptTokens: 40, completionTokens: 11, totalTokens: 51, cachedPromptTokens: 16 },
    done: true,
    responseId: 'chatcmpl-1',
    responseModel: 'llama-3-8b',
  });
  return Object.assign(createObservation('req-1', 'POST', '/v1/chat/completions', t0), {
    requestedModel: 'llama-3-8b',
    stream: true,
    requestJson: { model: 'llama-3-8b', stream: true, max_tokens: 64, temperature: 0.5, messages: [{ role: 'user', content: 'the secret prompt' }] },
    keyId: 'key-7',
    tenant: 'acme',
    rateLimit: { outcome: 'admitted' as const, limitedBy: undefined, store: 'redis' as const, reservedTokens: 104, startedAt: t0 + 1, endedAt: t0 + 1.6 },
    routingOutcome: 'affinity',
    sessionKeySource: 'header',
    upstreamHeadersAt: t0 + 10,
    firstByteWrittenAt: t0 + 10.5,
    firstContentWrittenAt: t0 + 40.2,
    lastContentWrittenAt: t0 + 140.2,
    status: 200,
    streamFacts: facts,
  });
}

describe('spans built from a finished observation', () => {
  it('continues the client trace: SERVER span, rate-limit child, one CLIENT attempt span with GenAI attributes and the first-token event', () => {
    const tracer = tracerOf();
    const t0 = performance.now() - 500;
    const observation = streamedChat(t0);
    const response = rawResponse();
    tracer.requestStarted(observation, CLIENT_HEADERS, response);
    const first = target(replica('gpu-a', 'http://10.0.0.5:8000'));
    observation.dispatchedAt = t0 + 2;
    observation.replica = 'gpu-a';
    observation.trace!.attemptStarted(first, t0 + 2);
    observation.completedAt = t0 + 141;
    tracer.finish(observation, measureRequest(observation));

    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name).sort()).toEqual(['POST /v1/chat/completions', 'chat llama-3-8b', 'rate_limit']);
    const server = spanNamed(spans, 'POST /v1/chat/completions');
    const attempt = spanNamed(spans, 'chat llama-3-8b');
    const rateLimit = spanNamed(spans, 'rate_limit');

    // One trace, the client's; parents: client → server → {attempt, rate limit}.
    for (const span of spans) expect(span.spanContext().traceId).toBe(CLIENT_TRACE_ID);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentIdOf(server)).toBe(CLIENT_SPAN_ID);
    expect(attempt.kind).toBe(SpanKind.CLIENT);
    expect(parentIdOf(attempt)).toBe(server.spanContext().spanId);
    expect(rateLimit.kind).toBe(SpanKind.INTERNAL);
    expect(parentIdOf(rateLimit)).toBe(server.spanContext().spanId);

    // The upstream request carries the attempt span as its parent.
    expect(headersOf(first).traceparent).toBe(`00-${CLIENT_TRACE_ID}-${attempt.spanContext().spanId}-01`);
    expect(observation.traceId).toBe(CLIENT_TRACE_ID);
    expect(observation.spanId).toBe(server.spanContext().spanId);

    // Exact times from the facts, on one clock.
    const start = epochMs(server.startTime);
    expect(epochMs(server.endTime) - start).toBeCloseTo(141, 3);
    expect(epochMs(attempt.startTime) - start).toBeCloseTo(2, 3);
    expect(epochMs(attempt.endTime) - start).toBeCloseTo(141, 3);
    expect(epochMs(rateLimit.startTime) - start).toBeCloseTo(1, 3);
    expect(epochMs(rateLimit.endTime) - start).toBeCloseTo(1.6, 3);
    expect(Math.abs(start - (Date.now() - 500))).toBeLessThan(50);

    expect(attempt.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'vllm',
      'gen_ai.request.model': 'llama-3-8b',
      'gen_ai.request.stream': true,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.response.id': 'chatcmpl-1',
      'gen_ai.response.model': 'llama-3-8b',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 40,
      'gen_ai.usage.output_tokens': 11,
      'gen_ai.usage.cache_read.input_tokens': 16,
      'gen_ai.conversation.id': 'conversation-42',
      'server.address': '10.0.0.5',
      'server.port': 8000,
      'http.response.status_code': 200,
      'tollbooth.routing.replica': 'gpu-a',
      'tollbooth.routing.attempt': 1,
    });
    expect(attempt.attributes['error.type']).toBeUndefined();
    expect(attempt.status.code).toBe(SpanStatusCode.UNSET);

    const [event, ...otherEvents] = attempt.events;
    expect(otherEvents).toEqual([]);
    expect(event!.name).toBe('gen_ai.first_token');
    expect(epochMs(event!.time) - start).toBeCloseTo(40.2, 3);
    expect(event!.attributes).toEqual({ 'tollbooth.ttft_ms': expect.closeTo(40.2, 6), 'tollbooth.upstream_ttft_ms': expect.closeTo(38, 6) });

    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'tollbooth.request_id': 'req-1',
      'tollbooth.outcome': 'success',
      'tollbooth.api_key.id': 'key-7',
      'tollbooth.tenant': 'acme',
      'tollbooth.rate_limit.outcome': 'admitted',
      'tollbooth.routing.outcome': 'affinity',
      'tollbooth.routing.failovers': 0,
      'tollbooth.session_key.source': 'header',
    });
    expect(rateLimit.attributes).toEqual({
      'tollbooth.rate_limit.outcome': 'admitted',
      'tollbooth.rate_limit.store': 'redis',
      'tollbooth.rate_limit.reserved_tokens': 104,
    });

    // Undefined facts leave no attribute (the exporter would send an empty value).
    for (const span of spans) expect(Object.values(span.attributes).filter((value) => value === undefined)).toEqual([]);
    expect(rateLimit.attributes).not.toHaveProperty('tollbooth.rate_limit.limited_by');

    // Never the API key; no content without the opt-in.
    const values = everyAttributeValue(spans).join('\n');
    expect(values).not.toContain(API_KEY);
    expect(values).not.toContain('the secret prompt');
    expect(attempt.attributes['gen_ai.input.messages']).toBeUndefined();
  });

  it('makes each failover a separate attempt span that ends, with its error, when the next one starts', () => {
    const tracer = tracerOf();
    const t0 = performance.now() - 500;
    const observation = streamedChat(t0);
    tracer.requestStarted(observation, {}, rawResponse());
    const first = target(replica('gpu-a', 'http://10.0.0.5:8000'));
    const second = target(replica('gpu-b', 'http://[fd00::7]:9000'));
    observation.dispatchedAt = t0 + 2;
    observation.trace!.attemptStarted(first, t0 + 2);
    observation.trace!.attemptFailed(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), t0 + 3);
    observation.failovers = 1;
    observation.trace!.attemptStarted(second, t0 + 3);
    observation.replica = 'gpu-b';
    observation.completedAt = t0 + 141;
    tracer.finish(observation, measureRequest(observation));

    const spans = exporter.getFinishedSpans();
    const server = spanNamed(spans, 'POST /v1/chat/completions');
    const attempts = spans.filter((span) => span.name === 'chat llama-3-8b').sort((a, b) => epochMs(a.startTime) - epochMs(b.startTime));
    expect(attempts).toHaveLength(2);
    const [failed, answered] = attempts as [(typeof attempts)[0], (typeof attempts)[0]];
    for (const span of attempts) expect(parentIdOf(span)).toBe(server.spanContext().spanId);
    expect(failed.attributes).toMatchObject({ 'error.type': 'ECONNREFUSED', 'server.address': '10.0.0.5', 'tollbooth.routing.attempt': 1 });
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.events).toEqual([]);
    expect(epochMs(failed.endTime) - epochMs(server.startTime)).toBeCloseTo(3, 3);
    expect(answered.attributes).toMatchObject({ 'server.address': 'fd00::7', 'server.port': 9000, 'tollbooth.routing.attempt': 2 });
    expect(answered.attributes['error.type']).toBeUndefined();
    expect(answered.events.map((event) => event.name)).toEqual(['gen_ai.first_token']);
    expect(server.attributes['tollbooth.routing.failovers']).toBe(1);
    // Each try told its replica about itself, not about the other try.
    expect(headersOf(first).traceparent).toContain(failed.spanContext().spanId);
    expect(headersOf(second).traceparent).toContain(answered.spanContext().spanId);
    // Without a client traceparent the gateway starts the trace.
    expect(parentIdOf(server)).toBeUndefined();
  });

  it('marks a replica error on the attempt and the SERVER span; a refused request has no attempt and is not a server error', () => {
    const tracer = tracerOf();
    const t0 = performance.now() - 100;
    const failed = Object.assign(createObservation('req-2', 'POST', '/v1/chat/completions', t0), {
      requestedModel: 'llama-3-8b',
      requestJson: { model: 'llama-3-8b', messages: [] },
      status: 500,
      dispatchedAt: t0 + 1,
      upstreamHeadersAt: t0 + 5,
    });
    tracer.requestStarted(failed, {}, rawResponse());
    failed.trace!.attemptStarted(target(replica('gpu-a', 'http://10.0.0.5:8000')), t0 + 1);
    failed.completedAt = t0 + 6;
    tracer.finish(failed, measureRequest(failed));

    const refused = Object.assign(createObservation('req-3', 'POST', '/v1/chat/completions', t0), {
      requestedModel: 'no-such-model',
      status: 404,
      errorCode: 'model_not_found' as const,
      completedAt: t0 + 1,
    });
    tracer.requestStarted(refused, {}, rawResponse());
    tracer.finish(refused, measureRequest(refused));

    const spans = exporter.getFinishedSpans();
    const attempt = spanNamed(spans, 'chat llama-3-8b');
    expect(attempt.attributes).toMatchObject({ 'error.type': 'upstream_http_500', 'http.response.status_code': 500 });
    expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
    const servers = spans.filter((span) => span.kind === SpanKind.SERVER);
    const failedServer = servers.find((span) => span.attributes['tollbooth.request_id'] === 'req-2')!;
    const refusedServer = servers.find((span) => span.attributes['tollbooth.request_id'] === 'req-3')!;
    expect(failedServer.status.code).toBe(SpanStatusCode.ERROR);
    expect(refusedServer.attributes).toMatchObject({ 'error.type': 'model_not_found', 'http.response.status_code': 404, 'tollbooth.outcome': 'rejected' });
    expect(refusedServer.status.code).toBe(SpanStatusCode.UNSET);
    expect(spans.filter((span) => span.kind === SpanKind.CLIENT)).toHaveLength(1);
  });

  it('names a conversation only from an explicit session id, never from the prompt prefix', () => {
    const tracer = tracerOf();
    const t0 = performance.now() - 100;
    const fromBody = Object.assign(streamedChat(t0), { requestJson: { model: 'llama-3-8b', prompt_cache_key: 'thread-9', messages: [] } });
    const fromPrefix = Object.assign(streamedChat(t0), { requestId: 'req-prefix', sessionKeySource: 'prefix' });
    for (const observation of [fromBody, fromPrefix]) {
      tracer.requestStarted(observation, {}, rawResponse());
      observation.trace!.attemptStarted(target(replica('gpu-a', 'http://10.0.0.5:8000')), t0 + 1);
      observation.completedAt = t0 + 141;
      tracer.finish(observation, measureRequest(observation));
    }
    const conversations = exporter
      .getFinishedSpans()
      .filter((span) => span.kind === SpanKind.CLIENT)
      .map((span) => span.attributes['gen_ai.conversation.id']);
    expect(conversations.sort()).toEqual(['thread-9', undefined]);
  });

  it('records prompt and completion text only with captureContent, cut at the limit', () => {
    const tracer = tracerOf({ captureContent: true, contentLimitChars: 200 });
    const t0 = performance.now() - 100;
    const observation = streamedChat(t0);
    const response = rawResponse();
    tracer.requestStarted(observation, {}, response);
    observation.trace!.attemptStarted(target(replica('gpu-a', 'http://10.0.0.5:8000')), t0 + 1);
    // What the client received: two content events, a finish, [DONE].
    response.write('data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n');
    response.write(Buffer.from('data: {"id":"c","choices":[{"index":0,"delta":{"content":"lo!"}}]}\n\n'));
    response.end('data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
    observation.completedAt = t0 + 141;
    tracer.finish(observation, measureRequest(observation));

    const attempt = spanNamed(exporter.getFinishedSpans(), 'chat llama-3-8b');
    expect(JSON.parse(attempt.attributes['gen_ai.input.messages'] as string)).toEqual([{ role: 'user', content: 'the secret prompt' }]);
    expect(JSON.parse(attempt.attributes['gen_ai.output.messages'] as string)).toEqual([{ role: 'assistant', content: 'Hello!' }]);
  });

  it('masks personal data in captured content with guardrails.pii, before the cut', () => {
    const tracer = tracerOf({ captureContent: true, contentLimitChars: 200 }, pipeline, { pii: { kinds: ['email', 'card'] } });
    const t0 = performance.now() - 100;
    const observation = Object.assign(streamedChat(t0), {
      requestJson: { model: 'llama-3-8b', stream: true, messages: [{ role: 'user', content: 'mail me at jane@example.com' }] },
    });
    const response = rawResponse();
    tracer.requestStarted(observation, {}, response);
    observation.trace!.attemptStarted(target(replica('gpu-a', 'http://10.0.0.5:8000')), t0 + 1);
    response.end('data: {"id":"c","choices":[{"index":0,"delta":{"content":"Card 4111 1111 1111 1111 noted."}}]}\n\ndata: [DONE]\n\n');
    observation.completedAt = t0 + 141;
    tracer.finish(observation, measureRequest(observation));

    const attempt = spanNamed(exporter.getFinishedSpans(), 'chat llama-3-8b');
    expect(JSON.parse(attempt.attributes['gen_ai.input.messages'] as string)).toEqual([{ role: 'user', content: 'mail me at [EMAIL]' }]);
    expect(JSON.parse(attempt.attributes['gen_ai.output.messages'] as string)).toEqual([{ role: 'assistant', content: 'Card [CARD] noted.' }]);
  });

  it('writes no attributes for an unsampled request but still propagates its context (sampled flag off)', () => {
    const unsampled = inMemoryTracing(new tracing.AlwaysOffSampler());
    const tracer = tracerOf({}, unsampled.pipeline);
    const t0 = performance.now() - 100;
    const observation = streamedChat(t0);
    const response = rawResponse();
    tracer.requestStarted(observation, {}, response);
    const first = target(replica('gpu-a', 'http://10.0.0.5:8000'));
    observation.trace!.attemptStarted(first, t0 + 1);
    observation.completedAt = t0 + 141;
    tracer.finish(observation, measureRequest(observation));
    expect(unsampled.exporter.getFinishedSpans()).toEqual([]);
    // No trace id for exemplars, error bodies or the traceresponse header: the trace does not exist.
    expect(observation.traceId).toBeUndefined();
    expect(headersOf(first).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('continues the trace state, follows the parent sampling decision, ignores an invalid traceparent', () => {
    const tracer = tracerOf();
    const t0 = performance.now() - 100;
    const withState = streamedChat(t0);
    tracer.requestStarted(withState, { ...CLIENT_HEADERS, tracestate: ['vendor=a', 'other=b'] }, rawResponse());
    const sent = target(replica('gpu-a', 'http://10.0.0.5:8000'));
    headersOf(sent).tracestate = 'client=stale';
    withState.trace!.attemptStarted(sent, t0 + 1);
    withState.completedAt = t0 + 141;
    tracer.finish(withState, measureRequest(withState));
    expect(headersOf(sent).tracestate).toBe('vendor=a,other=b');
    const server = spanNamed(exporter.getFinishedSpans(), 'POST /v1/chat/completions');
    expect(server.spanContext().traceState?.serialize()).toBe('vendor=a,other=b');
    expect(server.parentSpanContext).toMatchObject({ traceId: CLIENT_TRACE_ID, spanId: CLIENT_SPAN_ID, isRemote: true });

    // The client did not sample: neither does the gateway (parentbased), but the context travels on.
    exporter.reset();
    const unsampledParent = streamedChat(t0);
    tracer.requestStarted(unsampledParent, { traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-00` }, rawResponse());
    const onward = target(replica('gpu-a', 'http://10.0.0.5:8000'));
    headersOf(onward).tracestate = 'client=stale';
    unsampledParent.trace!.attemptStarted(onward, t0 + 1);
    tracer.finish(unsampledParent, measureRequest(unsampledParent));
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(unsampledParent.traceId).toBeUndefined();
    expect(headersOf(onward).traceparent).toMatch(new RegExp(`^00-${CLIENT_TRACE_ID}-[0-9a-f]{16}-00$`));
    expect(headersOf(onward).traceparent).not.toContain(CLIENT_SPAN_ID);
    expect(headersOf(onward).tracestate).toBeUndefined();

    // An invalid traceparent starts a new trace.
    const invalid = streamedChat(t0);
    tracer.requestStarted(invalid, { traceparent: `00-${CLIENT_TRACE_ID.toUpperCase()}-${CLIENT_SPAN_ID}-01` }, rawResponse());
    expect(invalid.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(invalid.traceId).not.toBe(CLIENT_TRACE_ID);
  });

  it('makes the SERVER span the active context for library spans in its synchronous extent only (sampled requests)', () => {
    const tracer = tracerOf();
    const observation = streamedChat(performance.now());
    tracer.requestStarted(observation, CLIENT_HEADERS, rawResponse());
    let inside: SpanContext | undefined;
    observation.trace!.within(() => {
      inside = trace.getSpanContext(context.active());
    });
    expect(inside).toMatchObject({ traceId: CLIENT_TRACE_ID, spanId: observation.spanId, traceFlags: 1 });
    expect(inRequestContext(observation, () => trace.getSpan(context.active())?.spanContext().spanId)).toBe(observation.spanId);
    expect(trace.getSpanContext(context.active())).toBeUndefined();
  });

  it('reads and writes trace context through the configured propagator when OTEL_PROPAGATORS is not W3C only', () => {
    // A propagator of its own header, as b3 or jaeger would be: `x-test-trace: <trace id>:<span id>`.
    const propagator: TextMapPropagator = {
      extract(parent, carrier, getter) {
        const [traceId, spanId] = String(getter.get(carrier, 'x-test-trace') ?? '').split(':');
        if (traceId === undefined || spanId === undefined) return parent;
        return trace.setSpanContext(parent, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
      },
      inject(active, carrier, setter) {
        const span = trace.getSpanContext(active);
        if (span !== undefined) setter.set(carrier, 'x-test-trace', `${span.traceId}:${span.spanId}`);
      },
      fields: () => ['x-test-trace'],
    };
    const tracer = tracerOf({}, { ...pipeline, propagator });
    const t0 = performance.now() - 100;
    const observation = streamedChat(t0);
    tracer.requestStarted(observation, { 'x-test-trace': `${CLIENT_TRACE_ID}:${CLIENT_SPAN_ID}`, traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` }, rawResponse());
    const sent = target(replica('gpu-a', 'http://10.0.0.5:8000'));
    observation.trace!.attemptStarted(sent, t0 + 1);
    observation.completedAt = t0 + 141;
    tracer.finish(observation, measureRequest(observation));
    const spans = exporter.getFinishedSpans();
    const server = spanNamed(spans, 'POST /v1/chat/completions');
    const attempt = spanNamed(spans, 'chat llama-3-8b');
    expect(server.spanContext().traceId).toBe(CLIENT_TRACE_ID);
    expect(parentIdOf(server)).toBe(CLIENT_SPAN_ID);
    expect(headersOf(sent)['x-test-trace']).toBe(`${CLIENT_TRACE_ID}:${attempt.spanContext().spanId}`);
    expect(headersOf(sent).traceparent).toBeUndefined();
  });

  it('takes the root decision from the configured sampler (trace id ratio), once per request', () => {
    const halves = inMemoryTracing(new tracing.TraceIdRatioBasedSampler(0.5));
    const tracer = tracerOf({}, halves.pipeline);
    let sampled = 0;
    for (let i = 0; i < 400; i++) {
      const observation = streamedChat(performance.now());
      tracer.requestStarted(observation, {}, rawResponse());
      observation.completedAt = observation.receivedAt + 1;
      tracer.finish(observation, measureRequest(observation));
      if (observation.traceId !== undefined) sampled += 1;
    }
    expect(sampled).toBeGreaterThan(120);
    expect(sampled).toBeLessThan(280);
    // Each sampled request exported its SERVER and rate-limit spans; nothing of the others.
    expect(halves.exporter.getFinishedSpans()).toHaveLength(sampled * 2);
  });

  it('is off (no tracer, nothing per request) without a span pipeline or with tracing.enabled false', () => {
    expect(createRequestTracer(config(), undefined)).toBeUndefined();
    expect(createRequestTracer(config({ enabled: false }), pipeline)).toBeUndefined();
  });
});
