/**
 * The Node floor: the cheapest correct reverse proxy Node 20 can be, a reference row in the peer
 * benchmark, not a product. `node:http` towards the client and one `undici.Pool` towards the one
 * upstream, the same two pieces Tollbooth stands on, with nothing of Tollbooth's own (no auth,
 * parsing, routing, metrics or logging). What it costs per request and per chunk is what every
 * Node gateway pays before doing anything; the peer table shows Tollbooth and vllm-router against it.
 *
 * `node dist/test/bench/peers/node-floor.js --port P --upstream URL` (port 0 picks a free one);
 * prints `node floor listening on http://127.0.0.1:<port>` once it accepts connections.
 */
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

/** Headers that describe one connection, not the message: never copied across. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function endToEnd(headers: IncomingHttpHeaders, drop: ReadonlySet<string>): OutgoingHttpHeaders {
  const copied: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && !drop.has(name)) copied[name] = value;
  return copied;
}

// undici sets host (the upstream's) and content-length (of the body it sends) itself.
const SET_BY_UNDICI = new Set(['host', 'content-length']);
const NOTHING = new Set<string>();
const BAD_GATEWAY = JSON.stringify({ error: { message: 'The upstream could not be reached.', type: 'server_error', param: null, code: 'upstream_unreachable' } });

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' } } });
if (values.port === undefined || values.upstream === undefined) throw new Error('usage: node-floor.js --port P --upstream URL');
// As many upstream connections as Tollbooth's default (upstream.connectionsPerReplica): the memory
// scenario holds 1,000 streams open at once, and one request per connection, as Tollbooth does.
const pool = new Pool(values.upstream, { connections: 1024, pipelining: 1 });

// HTTP keep-alive towards the client is node:http's default (as wrk's connections expect).
const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let controller: Dispatcher.DispatchController | undefined;
    let clientGone = false;
    response.once('close', () => {
      if (response.writableFinished) return;
      clientGone = true;
      controller?.abort(new Error('the client went away'));
    });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        // The client may have left while the request waited for a free upstream connection.
        if (clientGone) started.abort(new Error('the client went away'));
      },
      onResponseStart(_controller, statusCode, headers) {
        response.writeHead(statusCode, endToEnd(headers, NOTHING));
      },
      onResponseData(paused, chunk) {
        if (response.write(chunk)) return;
        paused.pause();
        response.once('drain', () => paused.resume());
      },
      onResponseEnd() {
        response.end();
      },
      onResponseError(_controller, error) {
        if (clientGone) return;
        if (response.headersSent) return void response.destroy(error);
        response.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BAD_GATEWAY) }).end(BAD_GATEWAY);
      },
    };
    const body = chunks.length === 0 ? null : Buffer.concat(chunks);
    pool.dispatch({ origin: values.upstream, path: request.url ?? '/', method: request.method as Dispatcher.HttpMethod, headers: endToEnd(request.headers, SET_BY_UNDICI) as Record<string, string | string[]>, body }, handler);
  });
  request.on('error', () => response.destroy());
});

server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`node floor listening on http://127.0.0.1:${address.port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.destroy();
});
