// The spans of one typical streamed chat request (SERVER span and one attempt CLIENT span with the
// first-token event), gathered from an observation by RequestTracer and built from its facts
// exactly as the gateway does, and the set-up every cost script in this folder shares: the
// gateway's propagator and synchronous context manager made global, the OpenTelemetry packages
// the scripts measure, our encoder, and the resource a gateway's spans carry. Needs `npm run build`.
import { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
const root = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const require = createRequire(`${root}/package.json`);
export const { tracing, resources, core } = require('@opentelemetry/sdk-node');
export const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const api = require('@opentelemetry/api');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const { SynchronousContextManager } = await import(`${root}/dist/src/telemetry/tracing/synchronous-context.js`);
api.context.setGlobalContextManager(new SynchronousContextManager());
export const { OtlpSpanEncoder } = await import(`${root}/dist/src/telemetry/tracing/otlp-span-encoder.js`);
export const gatewayResource = resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.name': 'tollbooth', 'host.name': 'vm', 'process.pid': 1 }));
const { createRequestTracer } = await import(`${root}/dist/src/telemetry/tracing/request-trace.js`);
const { spanOriginOf } = await import(`${root}/dist/src/telemetry/tracing/span-pipeline.js`);
const { spansBuiltInProcess } = await import(`${root}/dist/src/telemetry/tracing/request-spans.js`);
const { createObservation } = await import(`${root}/dist/src/telemetry/observation.js`);
const { measureRequest } = await import(`${root}/dist/src/telemetry/measures.js`);
const { createStreamFacts } = await import(`${root}/dist/src/streaming/stream-facts.js`);
const { Replica } = await import(`${root}/dist/src/routing/replica.js`);
const { DEFAULT_CIRCUIT_SETTINGS } = await import(`${root}/dist/src/routing/circuit-breaker.js`);
const { parseConfig } = await import(`${root}/dist/src/config/load.js`);

/**
 * `oneRequest(i)` records the spans of request i into `processor` (built in process), with the
 * resource and scope of `provider` (built with that processor and the default sampler), as the
 * gateway's export thread builds them. With `requestSpans`, a sink of your own gets each request's
 * span facts instead (what the gateway's event loop hands to the export thread).
 */
export function typicalRequests(provider, processor, requestSpans) {
  const config = parseConfig({ replicas: [{ url: 'http://10.0.0.5:8000', models: ['llama-3-8b'] }], auth: { enabled: false } });
  const sampler = new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() });
  const parseTraceState = (header) => new core.TraceState(header);
  const pipeline = { requestSpans: requestSpans ?? spansBuiltInProcess(processor, spanOriginOf(provider, parseTraceState, gatewayResource, {})), sampler, parseTraceState };
  const tracer = createRequestTracer(config, pipeline);
  const replica = new Replica({ name: 'gpu-a', url: 'http://10.0.0.5:8000', models: ['llama-3-8b'] }, DEFAULT_CIRCUIT_SETTINGS);
  const response = new ServerResponse(new IncomingMessage(new Socket()));
  const headers = { 'content-type': 'application/json', 'user-agent': 'wrk' };

  return function oneRequest(i) {
    const t0 = performance.now();
    const o = createObservation(`req-${i}`, 'POST', '/v1/chat/completions', t0);
    o.requestedModel = 'llama-3-8b'; o.stream = true; o.requestJson = { model: 'llama-3-8b', stream: true, messages: [] };
    o.routingOutcome = 'least_loaded';
    tracer.requestStarted(o, headers, response);
    const target = { replica, dispatcher: undefined, options: { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', 'x-request-id': o.requestId } } };
    tracer.continueInTrace(o, () => {});
    o.dispatchedAt = t0 + 0.1; o.replica = 'gpu-a';
    o.trace.attemptStarted(target, t0 + 0.1);
    const f = createStreamFacts();
    Object.assign(f, { firstContentAt: t0 + 0.3, lastContentAt: t0 + 0.5, contentEvents: 64, finishReasons: ['length'], usage: { promptTokens: 12, completionTokens: 64, totalTokens: 76, cachedPromptTokens: undefined }, done: true, responseId: 'chatcmpl-abc', responseModel: 'llama-3-8b' });
    o.streamFacts = f; o.status = 200; o.upstreamHeadersAt = t0 + 0.2; o.firstContentWrittenAt = t0 + 0.31; o.lastContentWrittenAt = t0 + 0.51; o.completedAt = t0 + 0.6;
    tracer.finish(o, measureRequest(o));
  }
}
