import { replicaName, type ReplicaConfig } from './config.js';
import { BusyShareClock } from '../cost/busy-share.js';
import type { Candidate } from './balancer.js';
import { CircuitBreaker, type CircuitSettings } from './circuit-breaker.js';
import type { GpuStats } from './dcgm.js';
import type { EngineStats } from './engine-stats.js';

export type ReplicaHealth = 'unknown' | 'healthy' | 'unhealthy';

/** What a replica's GET /v1/models says about one model (kept as sent, for our own /v1/models). */
export type ModelCard = Readonly<Record<string, unknown>> & { readonly id: string };

/**
 * One vLLM server as the gateway sees it. Mutable by design: the fleet monitor writes health,
 * models and engine stats; upstream exchanges write load and circuit outcomes; the router reads.
 */
export class Replica implements Candidate {
  readonly name: string;
  /** Origin (scheme://host:port) the upstream pool connects to. */
  readonly origin: string;
  readonly apiKey: string | undefined;
  readonly discoversModels: boolean;
  /** Where its DCGM figures are scraped (config gpuMetricsUrl), if anywhere. */
  readonly gpuMetricsUrl: string | undefined;
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
  /** Passive ejection: opens after consecutive failed requests, half-opens after a backoff. */
  readonly circuit: CircuitBreaker;
  /** The engine's own figures from its /metrics; undefined until scraped, and again once stale. */
  engineStats: EngineStats | undefined;
  /** Prefix-cache hits / queries over the latest interval between two scrapes that had queries; undefined before any, or once stale. */
  prefixCacheHitRatio: number | undefined;
  /** The GPUs' figures from gpuMetricsUrl; undefined until scraped, and again once stale. */
  gpuStats: GpuStats | undefined;

  constructor(
    private readonly config: ReplicaConfig,
    circuit: CircuitSettings,
  ) {
    this.name = replicaName(config);
    this.circuit = new CircuitBreaker(circuit);
    this.origin = new URL(config.url).origin;
    this.apiKey = config.apiKey;
    this.discoversModels = config.models === 'auto';
    this.gpuMetricsUrl = config.gpuMetricsUrl;
    this.models = new Set(config.models === 'auto' ? [] : config.models);
  }

  /** The same replica as configured now: a reload keeps its state. */
  sameConfig(other: ReplicaConfig): boolean {
    const mine = this.config;
    return (
      replicaName(other) === this.name &&
      new URL(other.url).origin === this.origin &&
      other.apiKey === mine.apiKey &&
      other.gpuMetricsUrl === mine.gpuMetricsUrl &&
      JSON.stringify(other.models) === JSON.stringify(mine.models)
    );
  }

  get inFlight(): number {
    return this.load.inFlight;
  }

  /** The engine's queue (vllm:num_requests_waiting), 0 when not known. */
  get waiting(): number {
    return this.engineStats?.waiting ?? 0;
  }

  /**
   * May take a request now: its last probe did not fail (unknown counts, so boot is not blocked)
   * and its circuit is not ejecting it (a half-open circuit takes one trial at a time).
   */
  routableAt(now: number): boolean {
    return this.health !== 'unhealthy' && this.circuit.retryInMs(now) === 0;
  }
}
