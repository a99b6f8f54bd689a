import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { TollboothConfig } from './config/schema.js';
import { GatewayError } from './errors/gateway-error.js';
import { INFERENCE_ENDPOINTS } from './proxy/endpoints.js';
import { createForwarder } from './proxy/forward.js';
import { UpstreamPools } from './proxy/upstream-pools.js';
import { FleetMonitor } from './routing/fleet-monitor.js';
import { ReplicaRegistry } from './routing/registry.js';
import { Router } from './routing/router.js';
import { installErrorHandling } from './server/error-handler.js';
import { registerOperationRoutes } from './server/operations.js';
import { opaqueBody, parseJsonBody } from './server/request-body.js';
import { requestIdOf } from './server/request-id.js';
import { installObservation } from './telemetry/plugin.js';

export interface Gateway {
  readonly app: FastifyInstance;
  readonly registry: ReplicaRegistry;
  readonly monitor: FleetMonitor;
  /** Stop taking new requests: later ones on open connections get 503 shutting_down. */
  startDraining(): void;
  /** Closes the server (waiting for in-flight requests), the fleet monitor and upstream pools. */
  close(): Promise<void>;
}

/**
 * Builds the gateway. The order below is the request's path:
 *   onRequest       observation: request id, t0, one access-log line when the response closes
 *   onRequest       drain gate                                             503 shutting_down
 *   content parser  body bytes kept as sent; JSON parsed once              400 / 413 / 415
 *   handler         request schema → routing fields                        400 / 415
 *                   router: model → replica                                404 / 503
 *                   upstream exchange: relay bytes, map failures           502 / 504, in-band SSE error
 *   error handler   any thrown error → OpenAI envelope
 */
export function buildGateway(config: TollboothConfig, log: Logger): Gateway {
  const registry = new ReplicaRegistry(config);
  const pools = new UpstreamPools(registry.replicas, config.upstream);
  const router = new Router(registry);
  const monitor = new FleetMonitor(registry, pools, config.health, log.child({ component: 'fleet' }));
  let draining = false;

  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // The access log (one line per request, written from the observation) replaces fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: it costs an allocation on every request, and our log lines
    // carry request_id explicitly.
    childLoggerFactory: (logger) => logger,
    genReqId: requestIdOf,
    bodyLimit: config.server.bodyLimitBytes,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    // Fastify's own 503 body is not the OpenAI shape; the drain gate below answers instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });

  installObservation(app, config.logging.accessLog ? log.child({ component: 'access' }) : undefined);
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done();
    void reply.header('connection', 'close');
    done(new GatewayError('shutting_down'));
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, raw, done) => {
    try {
      done(null, parseJsonBody(raw as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, raw, done) => done(null, opaqueBody(raw as Buffer)));

  installErrorHandling(app);
  registerOperationRoutes(app, registry);

  const forward = createForwarder({ router, pools, upstream: config.upstream });
  for (const endpoint of INFERENCE_ENDPOINTS) {
    app.post(endpoint.path, (request, reply) => forward(request, reply, endpoint));
  }
  app.all('/v1/*', (request, reply) => forward(request, reply, undefined));

  return {
    app,
    registry,
    monitor,
    startDraining: () => {
      draining = true;
    },
    close: async () => {
      draining = true;
      monitor.stop();
      await app.close();
      await pools.close();
    },
  };
}
