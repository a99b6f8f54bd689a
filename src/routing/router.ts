import { GatewayError } from '../errors/gateway-error.js';
import type { ReplicaRegistry } from './registry.js';
import type { Replica } from './replica.js';
import { RoundRobin } from './round-robin.js';

/** Any-replica requests (no model in the body) rotate under this key. */
const ANY_MODEL_KEY = '\u0000any';

/**
 * Chooses the replica for a request. Distinguishes "nobody serves this model" (404) from
 * "the replicas that serve it are down" (503), as clients need different reactions to each.
 */
export class Router {
  private readonly rotation = new RoundRobin();

  constructor(private readonly registry: ReplicaRegistry) {}

  pick(model: string | undefined): Replica {
    if (model === undefined) return this.pickAny();
    const serving = this.registry.replicasServing(model);
    if (serving.length === 0) {
      throw new GatewayError('model_not_found', `The model \`${model}\` does not exist.`, 'model');
    }
    const chosen = this.rotation.pick(model, serving.filter(isRoutable));
    if (chosen === undefined) {
      throw new GatewayError('no_replica_available', `No healthy replica is available for model \`${model}\` right now.`);
    }
    return chosen;
  }

  private pickAny(): Replica {
    const chosen = this.rotation.pick(ANY_MODEL_KEY, this.registry.replicas.filter(isRoutable));
    if (chosen === undefined) throw new GatewayError('no_replica_available');
    return chosen;
  }
}

function isRoutable(replica: Replica): boolean {
  return replica.routable;
}
