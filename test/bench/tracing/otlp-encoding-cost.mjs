// CPU of OTLP protobuf encoding alone: the spans of 500 typical streamed chat requests (1000 spans,
// as RequestTracer builds them) encoded in batches of 512 (the batch processor's default) by the
// standard ProtobufTraceSerializer of @opentelemetry/otlp-transformer and by our OtlpSpanEncoder,
// interleaved. Needs `npm run build`. Run:
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/otlp-encoding-cost.mjs
// Prints per round ns per span for each, the median, and bytes per request.
// `--only standard|ours --repeats N` encodes the spans N times with one encoder and nothing else,
// for an instruction count by difference (two N, so set-up and warm-up cancel out):
//   valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node --single-threaded \
//     test/bench/tracing/otlp-encoding-cost.mjs --only ours --repeats 60   (and --repeats 20)
import { gatewayResource, OtlpSpanEncoder, ProtobufTraceSerializer, tracing, typicalRequests } from './typical-request.mjs';

const REQUESTS = 500;
const BATCH = 512;
const REPEATS = process.argv.includes('--repeats') ? Number(process.argv[process.argv.indexOf('--repeats') + 1]) : 200;
const ROUNDS = 7;

const memory = new tracing.InMemorySpanExporter();
const processor = new tracing.SimpleSpanProcessor(memory);
const provider = new tracing.BasicTracerProvider({ resource: gatewayResource, spanProcessors: [processor] });
const oneRequest = typicalRequests(provider, processor);
for (let i = 0; i < REQUESTS; i++) oneRequest(i);
const spans = memory.getFinishedSpans();
const batches = [];
for (let start = 0; start < spans.length; start += BATCH) batches.push(spans.slice(start, start + BATCH));

const encoder = new OtlpSpanEncoder();
const encoders = {
  standard: (batch) => ProtobufTraceSerializer.serializeRequest(batch),
  ours: (batch) => encoder.encode(batch),
};
function nsPerSpan(encode) {
  const before = process.cpuUsage();
  let bytes = 0;
  for (let r = 0; r < REPEATS; r++) for (const batch of batches) bytes += encode(batch).length;
  const used = process.cpuUsage(before);
  return { ns: ((used.user + used.system) * 1000) / (REPEATS * spans.length), bytesPerRequest: bytes / (REPEATS * REQUESTS) };
}
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only !== undefined) {
  nsPerSpan(encoders[only]);
  console.log(JSON.stringify({ only, spansEncoded: REPEATS * spans.length }));
  process.exit(0);
}
for (const encode of Object.values(encoders)) nsPerSpan(encode);
const results = { standard: [], ours: [] };
let bytes = {};
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ['standard', 'ours'] : ['ours', 'standard'];
  for (const name of order) {
    const result = nsPerSpan(encoders[name]);
    results[name].push(+result.ns.toFixed(0));
    bytes[name] = Math.round(result.bytesPerRequest);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const spansPerRequest = spans.length / REQUESTS;
console.log(JSON.stringify({
  spans: spans.length,
  nsPerSpan: results,
  median: { standard: median(results.standard), ours: median(results.ours) },
  usPerRequest: { standard: +((median(results.standard) * spansPerRequest) / 1000).toFixed(2), ours: +((median(results.ours) * spansPerRequest) / 1000).toFixed(2) },
  bytesPerRequest: bytes,
}));
