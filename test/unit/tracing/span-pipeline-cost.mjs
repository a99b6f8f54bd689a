// CPU per request of the tracing pipeline alone: the SERVER and attempt spans of a streamed chat
// request built from an observation by RequestTracer, a BatchSpanProcessor, and the OTLP protobuf
// serialisation the exporter performs (no network). Needs `npm run build`. Run:
//   flock /tmp/tollbooth-bench.lock node test/unit/tracing/span-pipeline-cost.mjs
// Indicative (median of five rounds of 20 000); the tracing benchmark under test/bench/ is the
// measurement of record.
import { createRequire } from 'node:module';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
const root = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const require = createRequire(`${root}/package.json`);
const { tracing, resources } = require('@opentelemetry/sdk-node');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const api = require('@opentelemetry/api');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const { SynchronousContextManager } = await import(`${root}/dist/src/telemetry/tracing/synchronous-context.js`);
api.context.setGlobalContextManager(new SynchronousContextManager());
const { createRequestTracer } = await import(`${root}/dist/src/telemetry/tracing/request-trace.js`);
const { createObservation } = await import(`${root}/dist/src/telemetry/observation.js`);
const { measureRequest } = await import(`${root}/dist/src/telemetry/measures.js`);
const { createStreamFacts } = await import(`${root}/dist/src/streaming/stream-facts.js`);
const { Replica } = await import(`${root}/dist/src/routing/replica.js`);
const { DEFAULT_CIRCUIT_SETTINGS } = await import(`${root}/dist/src/routing/circuit-breaker.js`);
const { parseConfig } = await import(`${root}/dist/src/config/load.js`);

let bytes = 0;
const exporter = { export(spans, done) { bytes += ProtobufTraceSerializer.serializeRequest(spans).length; done({ code: 0 }); }, shutdown: async () => {} };
const resource = resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.name': 'tollbooth', 'host.name': 'vm', 'process.pid': 1 }));
const provider = new tracing.BasicTracerProvider({ resource, spanProcessors: [new tracing.BatchSpanProcessor(exporter, { maxQueueSize: 100000, maxExportBatchSize: 512, scheduledDelayMillis: 1 })] });
const config = parseConfig({ replicas: [{ url: 'http://10.0.0.5:8000', models: ['llama-3-8b'] }], auth: { enabled: false } });
const tracer = createRequestTracer(config, provider);
const replica = new Replica({ name: 'gpu-a', url: 'http://10.0.0.5:8000', models: ['llama-3-8b'] }, DEFAULT_CIRCUIT_SETTINGS);
const response = new ServerResponse(new IncomingMessage(new Socket()));
const headers = { 'content-type': 'application/json', 'user-agent': 'wrk' };

function oneRequest(i) {
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
async function round(n) {
  const c = process.cpuUsage();
  for (let i = 0; i < n; i++) { oneRequest(i); if (i % 256 === 255) await new Promise((r) => setImmediate(r)); }
  await provider.forceFlush();
  const u = process.cpuUsage(c);
  return (u.user + u.system) / n;
}
await round(5000);
const results = [];
for (let r = 0; r < 5; r++) results.push(await round(20000));
results.sort((a, b) => a - b);
console.log(JSON.stringify({ usPerRequest: results.map((x) => +x.toFixed(1)), median: +results[2].toFixed(1), bytesPerRequest: Math.round(bytes / (5000 + 100000)) }));
await provider.shutdown();
