import type { TollboothConfig } from '../config/schema.js';
import { Replica, type ModelCard } from './replica.js';

/**
 * The fleet: every configured replica and an index from model name to the replicas that serve it.
 * The index is rebuilt whenever a replica's model list changes, never on the request path.
 */
export class ReplicaRegistry {
  readonly replicas: readonly Replica[];
  private servingIndex = new Map<string, readonly Replica[]>();

  constructor(config: Pick<TollboothConfig, 'replicas'>) {
    this.replicas = config.replicas.map((replicaConfig) => new Replica(replicaConfig));
    this.rebuildIndex();
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

  get hasHealthyReplica(): boolean {
    return this.replicas.some((replica) => replica.health === 'healthy');
  }

  private rebuildIndex(): void {
    const index = new Map<string, Replica[]>();
    for (const replica of this.replicas) {
      for (const model of replica.models) {
        const list = index.get(model);
        if (list === undefined) index.set(model, [replica]);
        else list.push(replica);
      }
    }
    this.servingIndex = index;
  }
}

function sameMembers(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const value of a) if (!b.has(value)) return false;
  return true;
}
