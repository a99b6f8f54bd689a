// How much a request pays for its SERVER span: no tracing, our own single span (start at onRequest,
// context.with around the rest, attributes and end at close), or @fastify/otel (a span per request
// plus one per hook and handler). Three hooks and a handler, fastify.inject, a BatchSpanProcessor
// in front of an exporter that drops everything: CPU µs per request, five interleaved rounds.
// Run: flock /tmp/tollbooth-bench.lock node test/bench/tracing/fastify-otel-cost.mjs (indicative;
// the tracing benchmark under test/bench/ is the measurement of record).
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { node, tracing } = require('@opentelemetry/sdk-node');
const api = require('@opentelemetry/api');
const Fastify = require('fastify');
const { FastifyOtelInstrumentation } = require('@fastify/otel');

let exported = 0;
const exporter = { export(spans, cb) { exported += spans.length; cb({ code: 0 }); }, shutdown: async () => {} };
const provider = new node.NodeTracerProvider({ spanProcessors: [new tracing.BatchSpanProcessor(exporter, { maxQueueSize: 100000, maxExportBatchSize: 512, scheduledDelayMillis: 50 })] });
provider.register();
const tracer = provider.getTracer('x');

function build(mode) {
  const app = Fastify({ logger: false });
  if (mode === 'fastify-otel') {
    const inst = new FastifyOtelInstrumentation({ registerOnInitialization: false });
    inst.setTracerProvider(provider);
    app.register(inst.plugin());
  }
  app.register(async (app) => {
    app.addHook('onRequest', (request, reply, done) => {
      if (mode === 'own') {
        const parent = api.propagation.extract(api.ROOT_CONTEXT, request.headers);
        const span = tracer.startSpan('POST /v1/chat/completions', { kind: api.SpanKind.SERVER }, parent);
        request.span = span;
        reply.raw.once('close', () => { span.setAttributes({ 'http.request.method': 'POST', 'http.route': '/x', 'http.response.status_code': 200, a: 1, b: 'x', c: 2 }); span.end(); });
        api.context.with(api.trace.setSpan(parent, span), done);
      } else done();
    });
    app.addHook('onRequest', (request, reply, done) => done());
    app.addHook('preHandler', (request, reply, done) => done());
    app.post('/x', (request, reply) => { reply.send({ ok: true }); });
    app.post('/hijacked', (request, reply) => { reply.hijack(); reply.raw.end('{}'); });
  });
  return app;
}

async function run(mode, n) {
  const app = build(mode);
  await app.ready();
  const payload = '{"model":"m"}';
  for (let i = 0; i < 2000; i++) await app.inject({ method: 'POST', url: '/x', payload, headers: { 'content-type': 'application/json' } });
  const before = exported;
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) await app.inject({ method: 'POST', url: '/x', payload, headers: { 'content-type': 'application/json' } });
  const used = process.cpuUsage(t);
  await provider.forceFlush();
  const spans = exported - before;
  exported = 0;
  await app.inject({ method: 'POST', url: '/hijacked', payload, headers: { 'content-type': 'application/json' } });
  await provider.forceFlush();
  const hijackedSpans = exported; exported = 0;
  await app.close();
  return { mode, usPerRequest: ((used.user + used.system) / n).toFixed(1), spansPerRequest: (spans / n).toFixed(2), spansForHijackedReply: hijackedSpans };
}
const n = 20000;
for (const round of [1, 2, 3, 4, 5]) for (const mode of ['none', 'own', 'fastify-otel']) console.log(JSON.stringify({ round, ...(await run(mode, n)) }));
await provider.shutdown();
