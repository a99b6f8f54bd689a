import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { mayUseModel } from '../auth/model-access.js';
import type { ReplicaRegistry } from '../routing/registry.js';

/**
 * Liveness, readiness and the model list of the API port: answered by the gateway itself, never proxied.
 */
export function registerOperationRoutes(
  app: FastifyInstance,
  registry: ReplicaRegistry,
  /** With auth on: the model list needs a key, as OpenAI's does, and shows only the key's models. */
  authenticate: onRequestHookHandler | undefined,
): void {
  const startedAtSeconds = Math.floor(Date.now() / 1000);

  // Load balancers read the status; the replica details stay on the admin listener.
  registerProbeRoutes(app, registry, { replicaDetails: false });

  app.get('/v1/models', authenticate === undefined ? {} : { onRequest: authenticate }, async (request) => {
    const allowed = request.principal?.policy.models;
    const models = registry.listModels(startedAtSeconds);
    return { object: 'list', data: allowed === undefined ? models : models.filter((model) => mayUseModel(allowed, model.id)) };
  });
}

/**
 * /health says the process serves; /ready says it can do useful work: some replica answers its
 * probe and is not ejected by its circuit breaker. With `replicaDetails` the answer lists every
 * replica (health, circuit, models, last probe error): for the admin listener only, since it
 * names the fleet's addresses and errors.
 */
export function registerProbeRoutes(app: FastifyInstance, registry: ReplicaRegistry, options: { readonly replicaDetails: boolean }): void {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const { ready, replicas } = readiness(registry, performance.now());
    void reply.code(ready ? 200 : 503);
    const status = ready ? 'ready' : 'not_ready';
    return options.replicaDetails ? { status, replicas } : { status };
  });
}

function readiness(registry: ReplicaRegistry, now: number) {
  const replicas = registry.replicas.map((replica) => {
    const retryInMs = Math.ceil(replica.circuit.retryInMs(now));
    return {
      name: replica.name,
      health: replica.health,
      circuit: replica.circuit.state,
      ...(retryInMs > 0 ? { retry_in_ms: retryInMs } : {}),
      models: [...replica.models],
      ...(replica.lastProbeError === undefined ? {} : { last_error: replica.lastProbeError }),
    };
  });
  return { ready: replicas.some((replica) => replica.health === 'healthy' && replica.circuit !== 'open'), replicas };
}
