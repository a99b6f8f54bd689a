import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { accessLogRecord } from './access-log.js';
import { createObservation, type RequestObservation } from './observation.js';

declare module 'fastify' {
  interface FastifyRequest {
    observation: RequestObservation;
  }
}

/**
 * Opens the request's observation on arrival and closes it exactly once when the response is
 * over, whether it finished or the client went away. Fastify's onResponse hook does not run for
 * aborted responses, so the raw response's 'close' event is the one place this happens.
 */
export function installObservation(app: FastifyInstance, accessLog: Logger | undefined): void {
  app.decorateRequest('observation', undefined as unknown as RequestObservation);

  app.addHook('onRequest', (request, reply, done) => {
    const observation = createObservation(request.id, request.method, request.routeOptions.url ?? 'unmatched', performance.now());
    request.observation = observation;
    void reply.header('x-request-id', request.id);
    const response = reply.raw;
    response.once('close', () => {
      observation.completedAt = performance.now();
      observation.clientDisconnected = !response.writableFinished;
      if (observation.status === undefined && response.headersSent) observation.status = response.statusCode;
      accessLog?.info(accessLogRecord(observation), 'request');
    });
    done();
  });

  // Responses fastify serialises itself (errors, /v1/models, /ready); proxied ones are counted by the exchange.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (typeof payload === 'string' || Buffer.isBuffer(payload)) request.observation.responseBytes = Buffer.byteLength(payload);
    done(null, payload);
  });
}
