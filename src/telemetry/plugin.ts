import type { FastifyInstance } from 'fastify';
import { createObservation, type RequestObservation } from './observation.js';
import type { RequestTelemetry } from './request-telemetry.js';

declare module 'fastify' {
  interface FastifyRequest {
    observation: RequestObservation;
  }
}

/**
 * Routes that are the operators' and orchestrators' own traffic (liveness and readiness probes,
 * scrapes), not the gateway's: logged and metered, but not counted in /api/v1/metrics, where a
 * probe every few seconds would otherwise pass for requests and pull the latency figures down.
 */
export const NOT_TRAFFIC_ROUTES: ReadonlySet<string> = new Set([
  '/health',
  '/ready',
  '/metrics',
  '/metrics/prometheus',
  '/api/v1/metrics',
  // The live dashboard (where there is no admin listener): a page held open for hours is not a request.
  '/api/v1/metrics/stream',
  '/dashboard',
  '/dashboard/',
  '/dashboard/dashboard.js',
  '/dashboard/dashboard.css',
  '/dashboard/uplot.min.js',
  '/dashboard/uplot.min.css',
]);

/**
 * Opens the request's observation on arrival and hands it to telemetry exactly once when the
 * response is over, whether it finished or the client went away. Fastify's onResponse hook does
 * not run for aborted responses, so the raw response's 'close' event is the one place this
 * happens; telemetry reads in a microtask, after every other 'close' listener (the upstream
 * exchange settles its replica's load there) has written its facts. Nothing awaits that
 * microtask, so `complete` runs each of its steps under the gateway's guard (errors/internal-errors.ts)
 * and never throws into it.
 */
export function installObservation(app: FastifyInstance, telemetry: RequestTelemetry, options: { readonly inStatistics?: boolean } = {}): void {
  const countsAnyRoute = options.inStatistics ?? true;
  app.decorateRequest('observation', undefined as unknown as RequestObservation);

  app.addHook('onRequest', (request, reply, done) => {
    const observation = createObservation(request.id, request.method, request.routeOptions.url ?? 'unmatched', performance.now());
    const inStatistics = countsAnyRoute && !NOT_TRAFFIC_ROUTES.has(observation.route);
    observation.inStatistics = inStatistics;
    request.observation = observation;
    void reply.header('x-request-id', request.id);
    if (inStatistics) telemetry.requestStarted();
    const response = reply.raw;
    response.once('close', () => {
      observation.completedAt = performance.now();
      observation.clientDisconnected = !response.writableFinished;
      if (observation.status === undefined && response.headersSent) observation.status = response.statusCode;
      queueMicrotask(() => telemetry.complete(observation));
    });
    telemetry.beginTrace(observation, request.headers, response, reply, done);
  });

  // Responses fastify serialises itself (errors, /v1/models, /ready); proxied ones are counted by the exchange.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (typeof payload === 'string' || Buffer.isBuffer(payload)) request.observation.responseBytes = Buffer.byteLength(payload);
    done(null, payload);
  });
}
