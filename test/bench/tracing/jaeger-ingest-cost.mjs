// Jaeger's own CPU per request for the gateway's spans, with nothing else running: the spans of
// typical streamed chat requests (SERVER and attempt CLIENT span with the first-token event, built
// by RequestTracer as in the gateway) encoded by our encoder and POSTed to a live Jaeger v2 (memory
// storage, as the benchmarks run it), one batch at a time with a short pause between batches.
// Variants: `typical` (batches of 512, the batch processor's default; the resource the SDK detects
// in a gateway), `batch2048`, and `bare` (no span attributes or events: what the attributes cost).
// Needs `npm run build` and a Jaeger build (npm test builds it). Run:
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/jaeger-ingest-cost.mjs [--requests 30000] [--rounds 3]
// Prints Jaeger's CPU per request for each variant and round (interleaved) and the medians.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { resources, tracing, typicalRequests, OtlpSpanEncoder } from './typical-request.mjs';
const root = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const { startJaeger } = await import(`${root}/dist/test/helpers/jaeger.js`);
const { cpuSeconds } = await import(`${root}/dist/test/bench/procfs.js`);
const { values } = parseArgs({ options: { requests: { type: 'string', default: '30000' }, rounds: { type: 'string', default: '3' } } });
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);

// The resource a gateway's spans carry: the NodeSDK's default detectors (environment, process, host).
const detected = resources.detectResources({ detectors: [resources.envDetector, resources.processDetector, resources.hostDetector] });
await detected.waitForAsyncAttributes?.();
const gatewayResource = resources.defaultResource().merge(detected).merge(resources.resourceFromAttributes({ 'service.name': 'tollbooth' }));
const memory = new tracing.InMemorySpanExporter();
const processor = new tracing.SimpleSpanProcessor(memory);
const provider = new tracing.BasicTracerProvider({ resource: gatewayResource, spanProcessors: [processor] });
const oneRequest = typicalRequests(provider, processor);
const encoder = new OtlpSpanEncoder();
/** The same span with other attributes and events (a plain object with the span's fields). */
const stripped = (span) => ({ ...span, resource: span.resource, instrumentationScope: span.instrumentationScope, spanContext: () => span.spanContext(), attributes: {}, events: [] });
const variants = {
  typical: { batch: 512, map: (span) => span },
  batch2048: { batch: 2048, map: (span) => span },
  bare: { batch: 512, map: stripped },
};

const jaeger = await startJaeger({ maxTraces: 50_000 });
const url = `${jaeger.otlpHttpEndpoint}/v1/traces`;
async function run(name) {
  const { batch, map } = variants[name];
  memory.reset();
  for (let i = 0; i < REQUESTS; i++) oneRequest(i); // fresh trace ids: each request is a new trace in Jaeger
  const spans = memory.getFinishedSpans().map(map);
  const bodies = [];
  for (let i = 0; i < spans.length; i += batch) bodies.push(Buffer.from(encoder.encode(spans.slice(i, i + batch))));
  await sleep(300);
  const before = cpuSeconds(jaeger.pid);
  for (const body of bodies) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`Jaeger answered ${response.status}`);
    await sleep(5);
  }
  await sleep(500);
  return ((cpuSeconds(jaeger.pid) - before) * 1e6) / REQUESTS;
}
const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? Object.keys(variants) : Object.keys(variants).reverse();
    for (const name of order) {
      const us = await run(name);
      results[name].push(us);
      console.log(`round ${round + 1} ${name.padEnd(9)} Jaeger ${us.toFixed(1)} µs CPU per request`);
    }
  }
} finally {
  await jaeger.stop();
}
for (const [name, list] of Object.entries(results)) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(`${name.padEnd(9)} median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} µs CPU per request (${list.map((x) => x.toFixed(1)).join(' ')})`);
}
