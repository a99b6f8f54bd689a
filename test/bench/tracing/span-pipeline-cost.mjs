// CPU per request of the tracing pipeline alone: the SERVER and attempt spans of a streamed chat
// request built from an observation by RequestTracer, a BatchSpanProcessor, and the OTLP protobuf
// serialisation the exporter performs (no network): our OtlpSpanEncoder, or with `--standard` the
// ProtobufTraceSerializer of @opentelemetry/otlp-transformer. Needs `npm run build`. Run:
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/span-pipeline-cost.mjs [--standard]
// Indicative (median of five rounds of 20 000); the tracing benchmark under test/bench/ is the
// measurement of record.
import { gatewayResource, OtlpSpanEncoder, ProtobufTraceSerializer, tracing, typicalRequests } from './typical-request.mjs';
const encoder = new OtlpSpanEncoder();
const serialize = process.argv.includes('--standard') ? (spans) => ProtobufTraceSerializer.serializeRequest(spans) : (spans) => encoder.encode(spans);
let bytes = 0;
const exporter = { export(spans, done) { bytes += serialize(spans).length; done({ code: 0 }); }, shutdown: async () => {} };
const processor = new tracing.BatchSpanProcessor(exporter, { maxQueueSize: 100000, maxExportBatchSize: 512, scheduledDelayMillis: 1 });
const provider = new tracing.BasicTracerProvider({ resource: gatewayResource, spanProcessors: [processor] });
const oneRequest = typicalRequests(provider, processor);

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
