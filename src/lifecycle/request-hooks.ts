import type { FastifyInstance } from 'fastify';
import { createObservation, type RequestObservation } from './observation.js';
import type { RequestLifecycle } from './request-lifecycle.js';
import { inRequestContext, TRACE_RESPONSE_HEADER } from './request-listener.js';

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
 * Opens the request's observation on arrival (the subscribers' `started`) and ends it in the
 * lifecycle exactly once when the response is over, whether it finished or the client went away.
 * Fastify's onResponse hook does not run for aborted responses, so the raw response's 'close'
 * event is the one place this happens; the lifecycle reads in a microtask, after every other
 * 'close' listener (the upstream exchange settles its replica's load there) has written its facts.
 */
export function openRequestLifecycle(app: FastifyInstance, lifecycle: RequestLifecycle, options: { readonly inStatistics?: boolean } = {}): void {
  const countsAnyRoute = options.inStatistics ?? true;
  app.decorateRequest('observation', undefined as unknown as RequestObservation);

  app.addHook('onRequest', (request, reply, done) => {
    const observation = createObservation(request.id, request.method, request.routeOptions.url ?? 'unmatched', performance.now());
    observation.inStatistics = countsAnyRoute && !NOT_TRAFFIC_ROUTES.has(observation.route);
    request.observation = observation;
    void reply.header('x-request-id', request.id);
    const response = reply.raw;
    response.once('close', () => {
      observation.completedAt = performance.now();
      observation.clientDisconnected = !response.writableFinished;
      if (observation.status === undefined && response.headersSent) observation.status = response.statusCode;
      queueMicrotask(() => lifecycle.ended(observation));
    });
    lifecycle.started(observation, { headers: request.headers, response });
    // Responses fastify writes itself; the upstream exchange adds it to proxied ones.
    const traceResponse = observation.trace?.traceResponse;
    if (traceResponse !== undefined) void reply.header(TRACE_RESPONSE_HEADER, traceResponse);
    // The rest of the request's hooks run in its context: a library call they make synchronously belongs to it.
    inRequestContext(observation, done);
  });

  // Responses fastify serialises itself (errors, /v1/models, /ready); proxied ones are counted by the exchange.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (typeof payload === 'string' || Buffer.isBuffer(payload)) request.observation.responseBytes = Buffer.byteLength(payload);
    done(null, payload);
  });
}
