/**
 * The least a live OTLP/HTTP collector can be, for `tracing-bench --collector sink`: it accepts
 * every `POST /v1/traces` (200, an empty ExportTraceServiceResponse), counts the spans in each
 * request by walking the protobuf (ResourceSpans → ScopeSpans → Span) without decoding them, and
 * tells the count on `GET /spans`. Beside the gateway on the same two cores it costs far less than
 * Jaeger, so the benchmark can tell what tracing costs the gateway from what a collector costs the
 * machine. Usage: `node dist/test/bench/otlp-sink.js PORT`.
 */
import { createServer } from 'node:http';

const RESOURCE_SPANS = 1;
const SCOPE_SPANS = 2;
const SPANS = 2;
const LENGTH_DELIMITED = 2;

let spans = 0;

/** Reads a varint at `at`; returns [value, next offset]. */
function varint(bytes: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
    shift += 7;
  }
}

/** Calls `inside(start, end)` for each length-delimited field `field` of the message in [start, end). */
function eachField(bytes: Buffer, start: number, end: number, field: number, inside: (start: number, end: number) => void): void {
  let at = start;
  while (at < end) {
    const [key, afterKey] = varint(bytes, at);
    const wire = key & 7;
    at = afterKey;
    if (wire === LENGTH_DELIMITED) {
      const [length, afterLength] = varint(bytes, at);
      if (key >>> 3 === field) inside(afterLength, afterLength + length);
      at = afterLength + length;
    } else if (wire === 0) {
      at = varint(bytes, at)[1];
    } else if (wire === 1) {
      at += 8;
    } else if (wire === 5) {
      at += 4;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
}

function countSpans(body: Buffer): number {
  let count = 0;
  eachField(body, 0, body.length, RESOURCE_SPANS, (resourceStart, resourceEnd) =>
    eachField(body, resourceStart, resourceEnd, SCOPE_SPANS, (scopeStart, scopeEnd) =>
      eachField(body, scopeStart, scopeEnd, SPANS, () => {
        count += 1;
      }),
    ),
  );
  return count;
}

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/spans') {
    response.end(String(spans));
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    spans += countSpans(Buffer.concat(chunks));
    response.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
