import { replicaName, type ReplicaConfig } from '../config/schema.js';
import { BusyShareClock } from '../cost/busy-share.js';

export type ReplicaHealth = 'unknown' | 'healthy' | 'unhealthy';

/** What a replica's GET /v1/models says about one model (kept as sent, for our own /v1/models). */
export type ModelCard = Readonly<Record<string, unknown>> & { readonly id: string };

/**
 * One vLLM server as the gateway sees it. Mutable by design: the health prober and the model
 * discovery write here, the router reads. Nothing else changes it.
 */
export class Replica {
  readonly name: string;
  /** Origin (scheme://host:port) the upstream pool connects to. */
  readonly origin: string;
  readonly apiKey: string | undefined;
  readonly discoversModels: boolean;
  /** Models this replica serves: from the config, or from its /v1/models when `models: auto`. */
  models: ReadonlySet<string>;
  /** Metadata from the replica's /v1/models, when it has answered. */
  modelCards: ReadonlyMap<string, ModelCard> = new Map();
  health: ReplicaHealth = 'unknown';
  /** The last probe failure, for /ready and logs. */
  lastProbeError: string | undefined;
  /** Requests in flight here, and each one's share of the replica's busy time. */
  readonly load = new BusyShareClock();
  /** Requests dispatched here whose response headers have not arrived yet. */
  awaitingHeaders = 0;

  constructor(config: ReplicaConfig) {
    this.name = replicaName(config);
    this.origin = new URL(config.url).origin;
    this.apiKey = config.apiKey;
    this.discoversModels = config.models === 'auto';
    this.models = new Set(config.models === 'auto' ? [] : config.models);
  }

  /** A replica is routable unless its last probe failed (unknown counts as routable, so boot is not blocked). */
  get routable(): boolean {
    return this.health !== 'unhealthy';
  }
}
