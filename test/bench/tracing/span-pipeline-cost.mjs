// CPU per request of the tracing pipeline alone, in its two halves, for a typical streamed chat
// request (SERVER span and one attempt span with the first-token event), no network:
// - event loop: what the gateway's event loop does at the end of a request, RequestTracer gathering
//   the span facts and writing them into a chunk (span-facts-codec.ts), a chunk taken every 64
//   requests (the exporter transfers one every 256 since session 8; RESULTS' figures from this
//   script were taken at 64, so it stays);
// - export thread: what the export thread does with those chunks: read the facts, encode their
//   spans straight from them (RequestSpanEncoder) in batches closed once they reach 512 spans.
// With `--in-process` the second figure is instead the whole pipeline on one thread as tests and
// earlier builds ran it: spans built in process into a BatchSpanProcessor whose exporter encodes.
// Needs `npm run build`. Run:
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/span-pipeline-cost.mjs [--in-process]
// Indicative (median of five rounds of 20 000); the tracing benchmark under test/bench/ is the
// measurement of record.
import { gatewayResource, OtlpSpanEncoder, tracing, typicalRequests } from './typical-request.mjs';
const root = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const { FactsWriter, readChunk, spanCountOf, writeRequestSpanFacts } = await import(`${root}/dist/src/telemetry/tracing/span-facts-codec.js`);
const { RequestSpanEncoder } = await import(`${root}/dist/src/telemetry/tracing/request-span-encoder.js`);
const { attributeLimitsFromEnv } = await import(`${root}/dist/src/telemetry/tracing/span-pipeline.js`);

const BATCH = 512;
const encoder = new OtlpSpanEncoder();
let bytes = 0;
let requests = 0;

// Event loop half: facts written into chunks.
const writer = new FactsWriter();
let chunks = [];
const factsSink = {
  add(facts) {
    writeRequestSpanFacts(writer, facts);
    if (writer.records >= 64) chunks.push(writer.take());
  },
};
const gather = typicalRequests(undefined, undefined, factsSink);

// Export thread half: chunks → spans → encoded batches.
const requestEncoder = new RequestSpanEncoder(gatewayResource, { name: 'tollbooth', version: '0.1.0' }, attributeLimitsFromEnv({}));
function exportChunks(taken) {
  let batch = [];
  let spans = 0;
  for (const chunk of taken) {
    for (const facts of readChunk(chunk)) {
      batch.push(facts);
      spans += spanCountOf(facts);
      if (spans >= BATCH) {
        bytes += requestEncoder.encode(batch).length;
        batch = [];
        spans = 0;
      }
    }
    writer.reuse(chunk.numbers, chunk.chars);
  }
  if (batch.length > 0) bytes += requestEncoder.encode(batch).length;
}

// --in-process: the whole pipeline on one thread.
const exporter = { export(spans, done) { bytes += encoder.encode(spans).length; done({ code: 0 }); }, shutdown: async () => {} };
const processor = new tracing.BatchSpanProcessor(exporter, { maxQueueSize: 100000, maxExportBatchSize: BATCH, scheduledDelayMillis: 1 });
const provider = new tracing.BasicTracerProvider({ resource: gatewayResource, spanProcessors: [processor] });
const inProcess = typicalRequests(provider, processor);
const wholeInProcess = process.argv.includes('--in-process');

const cpu = () => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

async function round(n) {
  let start = cpu();
  for (let i = 0; i < n; i++) {
    gather(i);
    if (i % 256 === 255) await new Promise((r) => setImmediate(r));
  }
  const eventLoop = (cpu() - start) / n;
  const taken = chunks;
  chunks = [];
  start = cpu();
  if (wholeInProcess) {
    for (let i = 0; i < n; i++) {
      inProcess(i);
      if (i % 256 === 255) await new Promise((r) => setImmediate(r));
    }
    await provider.forceFlush();
  } else {
    exportChunks(taken);
  }
  const second = (cpu() - start) / n;
  requests += n;
  return { eventLoop, second };
}

await round(5000);
const results = [];
for (let r = 0; r < 5; r++) results.push(await round(20000));
const median = (values) => values.sort((a, b) => a - b)[2];
console.log(
  JSON.stringify({
    eventLoopUsPerRequest: +median(results.map((r) => r.eventLoop)).toFixed(2),
    [wholeInProcess ? 'inProcessUsPerRequest' : 'exportThreadUsPerRequest']: +median(results.map((r) => r.second)).toFixed(2),
    bytesPerRequest: Math.round(bytes / requests),
  }),
);
await provider.shutdown();
