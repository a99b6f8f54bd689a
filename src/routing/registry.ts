import { replicaName, type HealthConfig, type ReplicaConfig } from './config.js';
import type { CircuitSettings } from './circuit-breaker.js';
import { Replica, type ModelCard } from './replica.js';

export interface ReplicaSetChange {
  readonly added: readonly Replica[];
  readonly removed: readonly Replica[];
}

/**
 * The fleet: every replica and an index from model name to the replicas that serve it. The index
 * is rebuilt whenever the replica set or a replica's model list changes, never on the request path.
 */
export class ReplicaRegistry {
  private current: readonly Replica[] = [];
  private servingIndex = new Map<string, readonly Replica[]>();
  private servingLists = new Set<readonly Replica[]>();
  private readonly circuitSettings: CircuitSettings;

  constructor(config: { readonly replicas: readonly ReplicaConfig[]; readonly health: HealthConfig }) {
    this.circuitSettings = {
      failureThreshold: config.health.ejectAfterFailures,
      baseEjectionMs: config.health.baseEjectionMs,
      maxEjectionMs: config.health.maxEjectionMs,
    };
    this.applyReplicaSet(config.replicas);
  }

  get replicas(): readonly Replica[] {
    return this.current;
  }

  /**
   * Makes the fleet the given replica list (a reload, a DNS answer). A replica whose name, URL,
   * key and model list are unchanged keeps its state (health, load, circuit, engine stats);
   * requests in flight on removed replicas finish on them.
   */
  applyReplicaSet(configs: readonly ReplicaConfig[]): ReplicaSetChange {
    const existing = new Map(this.current.map((replica) => [replica.name, replica]));
    const next: Replica[] = [];
    const added: Replica[] = [];
    for (const config of configs) {
      const kept = existing.get(replicaName(config));
      if (kept !== undefined && kept.sameConfig(config)) {
        next.push(kept);
        existing.delete(kept.name);
      } else {
        const replica = new Replica(config, this.circuitSettings);
        next.push(replica);
        added.push(replica);
      }
    }
    this.current = next;
    this.rebuildIndex();
    return { added, removed: [...existing.values()] };
  }

  /** Whether `list` is one of the registry's own lists (the fleet, or a model's replicas), not a copy. */
  isFleetList(list: readonly Replica[]): boolean {
    return list === this.current || this.servingLists.has(list);
  }

  /** Every replica that lists the model, whatever its health. */
  replicasServing(model: string): readonly Replica[] {
    return this.servingIndex.get(model) ?? [];
  }

  /** Records a replica's answer to GET /v1/models: metadata always, membership for `models: auto`. */
  updateModels(replica: Replica, cards: readonly ModelCard[]): void {
    replica.modelCards = new Map(cards.map((card) => [card.id, card]));
    if (replica.discoversModels) {
      const next = new Set(cards.map((card) => card.id));
      if (!sameMembers(next, replica.models)) {
        replica.models = next;
        this.rebuildIndex();
      }
    }
  }

  /** The union of all replicas' models, in the order replicas are configured. */
  listModels(fallbackCreatedSeconds: number): ModelCard[] {
    const cards: ModelCard[] = [];
    for (const model of this.servingIndex.keys()) {
      const withCard = this.replicasServing(model).find((replica) => replica.modelCards.has(model));
      cards.push(
        withCard?.modelCards.get(model) ?? {
          id: model,
          object: 'model',
          created: fallbackCreatedSeconds,
          owned_by: 'vllm',
          root: model,
          parent: null,
        },
      );
    }
    return cards;
  }

  private rebuildIndex(): void {
    const index = new Map<string, Replica[]>();
    for (const replica of this.current) {
      for (const model of replica.models) {
        const list = index.get(model);
        if (list === undefined) index.set(model, [replica]);
        else list.push(replica);
      }
    }
    this.servingIndex = index;
    this.servingLists = new Set(index.values());
  }
}

function sameMembers(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const value of a) if (!b.has(value)) return false;
  return true;
}
