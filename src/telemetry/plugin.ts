import type { FastifyInstance } from 'fastify';
import { createObservation, type RequestObservation } from './observation.js';
import type { RequestTelemetry } from './request-telemetry.js';

declare module 'fastify' {
  interface FastifyRequest {
    observation: RequestObservation;
  }
}

/**
 * Opens the request's observation on arrival and hands it to telemetry exactly once when the
 * response is over, whether it finished or the client went away. Fastify's onResponse hook does
 * not run for aborted responses, so the raw response's 'close' event is the one place this
 * happens; telemetry reads in a microtask, after every other 'close' listener (the upstream
 * exchange settles its replica's load there) has written its facts. Nothing awaits that
 * microtask, so `complete` runs each of its steps under the gateway's guard (internal-errors.ts)
 * and never throws into it.
 */
export function installObservation(app: FastifyInstance, telemetry: RequestTelemetry, options: { readonly inStatistics?: boolean } = {}): void {
  const inStatistics = options.inStatistics ?? true;
  app.decorateRequest('observation', undefined as unknown as RequestObservation);

  app.addHook('onRequest', (request, reply, done) => {
    const observation = createObservation(request.id, request.method, request.routeOptions.url ?? 'unmatched', performance.now());
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
