import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo, Socket } from 'node:net';

import { Admission } from './admission.js';
import type { EngineContext } from './engine-context.js';
import { SimDcgm } from './dcgm.js';
import { SimMetrics } from './metrics.js';
import { simulatorOptionsSchema, type SimulatorOptionsInput } from './options.js';
import { PrefixCache } from './prefix-cache.js';
import { createRequestListener } from './router.js';
import { createRequestSpanExporter } from './span-export.js';
import { GroundTruth } from './truth.js';

export { simulatorOptionsSchema, type SimulatorOptions, type SimulatorOptionsInput } from './options.js';
export { GroundTruth, type TruthOutcome, type TruthRecord } from './truth.js';

export interface RunningSimulator {
  readonly url: string;
  readonly port: number;
  readonly truth: GroundTruth;
  /** server.getConnections(), for socket-leak tests. */
  openConnections(): Promise<number>;
  /** Closes the server, destroys open sockets and clears every pending timer. */
  close(): Promise<void>;
}

/** Keep-alive longer than typical client pools (undici 4 s, nginx 60 s) so the server never races them. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 66_000;

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startSimulator(input: SimulatorOptionsInput = {}): Promise<RunningSimulator> {
  const options = simulatorOptionsSchema.parse(input);
  const admission = new Admission(options.maxRunning);
  const prefixCache = options.prefixCache.enabled
    ? new PrefixCache(options.prefixCache.blockTokens, options.prefixCache.capacityBlocks)
    : null;
  const truth = new GroundTruth(options.truthCapacity);
  const metrics = new SimMetrics(options.models, options.maxModelLen, {
    running: (model) => admission.running(model),
    waiting: (model) => admission.waiting(model),
    kvCacheUsage: () => prefixCache?.usage() ?? 0,
  });
  const dcgm = new SimDcgm(
    options.gpu,
    { running: () => admission.totalRunning, kvCacheUsage: () => prefixCache?.usage() ?? 0 },
    hostname(),
    `GPU-${randomUUID()}`,
  );
  const requestSpans =
    options.otlpTracesEndpoint === undefined
      ? null
      : await createRequestSpanExporter({ endpoint: options.otlpTracesEndpoint, serviceName: options.otlpServiceName });
  const ctx: EngineContext = { options, admission, prefixCache, metrics, dcgm, truth, requestSpans, timers: new Set(), immediates: new Set() };

  const server = createServer(createRequestListener(ctx));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // Hung and long paced requests are features here; never let Node time them out.
  server.requestTimeout = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const address = await listen(server, options.port, options.host);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    truth,
    openConnections: () =>
      new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of ctx.timers) clearTimeout(timer);
        ctx.timers.clear();
        for (const immediate of ctx.immediates) clearImmediate(immediate);
        ctx.immediates.clear();
        const closed = new Promise<void>((done) => server.close(() => done()));
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        // Spans of requests that finished before close still go out (bounded wait).
        void Promise.all([closed, requestSpans?.shutdown()]).then(() => resolve());
      });
      return closing;
    },
  };
}
