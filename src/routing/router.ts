import type { RoutingConfig } from './config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { chooseReplica, leastLoaded, type RoutingOutcome } from './balancer.js';
import { HashRing } from './hash-ring.js';
import type { ReplicaRegistry } from './registry.js';
import type { Replica } from './replica.js';
import { RoundRobin } from './round-robin.js';
import type { SessionKey } from './session-key.js';

export type RouteOutcome = RoutingOutcome | 'round_robin';

export interface Route {
  readonly replica: Replica;
  readonly outcome: RouteOutcome;
}

/** Rings are cached per candidate set; a fleet has few distinct sets, so this bound is never near. */
const MAX_CACHED_RINGS = 256;
/** Any-replica requests (no model in the body) rotate and hash under this key. */
const ANY_MODEL_KEY = '\u0000any';

/**
 * Chooses the replica for a request. Candidates are the replicas that serve the model and may
 * take a request now (probe not failed, circuit not ejecting); among them the configured
 * strategy decides: session affinity with bounded load (consistent hashing of the session key),
 * least loaded (power of two choices), or round-robin.
 *
 * Distinguishes "nobody serves this model" (404) from "the replicas that serve it cannot take it
 * now" (503), as clients need different reactions to each. `exclude` carries the replicas a
 * request already failed on: the walk over the remaining ones is the key's next ring position.
 */
export class Router {
  private readonly rotation = new RoundRobin();
  private readonly rings = new Map<string, HashRing>();
  /**
   * Rings of the registry's own lists (every replica serving a model can take requests: the
   * usual case). Keyed by the list itself, so the hot path builds no signature string; a new
   * list after a membership change is a new key, and the old one is collected with its list.
   */
  private readonly ringsOfFullLists = new WeakMap<readonly Replica[], HashRing>();

  constructor(
    private readonly registry: ReplicaRegistry,
    private readonly settings: RoutingConfig,
    private readonly random: () => number = Math.random,
  ) {}

  pick(model: string | undefined, key: SessionKey | undefined, now: number, exclude?: ReadonlySet<Replica>): Route {
    const serving = model === undefined ? this.registry.replicas : this.registry.replicasServing(model);
    if (serving.length === 0) {
      if (model !== undefined) throw new GatewayError('model_not_found', `The model \`${model}\` does not exist.`, 'model');
      throw new GatewayError('no_replica_available');
    }
    const candidates = takesRequests(serving, now, exclude);
    if (candidates.length === 0) {
      throw new GatewayError(
        'no_replica_available',
        model === undefined ? undefined : `No healthy replica is available for model \`${model}\` right now.`,
      );
    }
    const route = this.choose(model ?? ANY_MODEL_KEY, candidates, key);
    // A half-open circuit admits one trial; claim it (for a closed circuit this is a no-op).
    route.replica.circuit.tryAcquire(now);
    return route;
  }

  private choose(rotationKey: string, candidates: readonly Replica[], key: SessionKey | undefined): Route {
    switch (this.settings.strategy) {
      case 'round-robin':
        return { replica: this.rotation.pick(rotationKey, candidates)!, outcome: 'round_robin' };
      case 'least-loaded': {
        const decision = leastLoaded(candidates, this.random);
        return { replica: candidates[decision.index]!, outcome: decision.outcome };
      }
      case 'session': {
        const decision = chooseReplica(candidates, this.ringFor(candidates), key, this.settings.capacityFactor, this.random);
        return { replica: candidates[decision.index]!, outcome: decision.outcome };
      }
    }
  }

  private ringFor(candidates: readonly Replica[]): HashRing {
    let ring = this.ringsOfFullLists.get(candidates);
    if (ring !== undefined) return ring;
    if (this.registry.isFleetList(candidates)) {
      ring = new HashRing(candidates.map((candidate) => candidate.name), this.settings.virtualNodes);
      this.ringsOfFullLists.set(candidates, ring);
      return ring;
    }
    let signature = '';
    for (const candidate of candidates) signature += `${candidate.name}\n`;
    ring = this.rings.get(signature);
    if (ring === undefined) {
      if (this.rings.size >= MAX_CACHED_RINGS) this.rings.clear();
      ring = new HashRing(candidates.map((candidate) => candidate.name), this.settings.virtualNodes);
      this.rings.set(signature, ring);
    }
    return ring;
  }
}

/**
 * The replicas of `serving` that may take the request now. Returns `serving` itself when all of
 * them can (no copy on the common path), else a filtered copy.
 */
function takesRequests(serving: readonly Replica[], now: number, exclude: ReadonlySet<Replica> | undefined): readonly Replica[] {
  const accepts = (replica: Replica): boolean => replica.routableAt(now) && exclude?.has(replica) !== true;
  return serving.every(accepts) ? serving : serving.filter(accepts);
}
