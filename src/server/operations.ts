import type { FastifyInstance } from 'fastify';
import type { ReplicaRegistry } from '../routing/registry.js';

/**
 * Liveness, readiness and the model list: answered by the gateway itself, never proxied.
 * /health says the process serves; /ready says it can do useful work (a replica answers).
 */
export function registerOperationRoutes(app: FastifyInstance, registry: ReplicaRegistry): void {
  const startedAtSeconds = Math.floor(Date.now() / 1000);

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const ready = registry.hasHealthyReplica;
    void reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : 'not_ready',
      replicas: registry.replicas.map((replica) => ({
        name: replica.name,
        health: replica.health,
        models: [...replica.models],
        ...(replica.lastProbeError === undefined ? {} : { last_error: replica.lastProbeError }),
      })),
    };
  });

  app.get('/v1/models', async () => ({ object: 'list', data: registry.listModels(startedAtSeconds) }));
}
