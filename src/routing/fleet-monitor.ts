import type { Logger } from 'pino';
import { request as undiciRequest, type Dispatcher } from 'undici';
import type { HealthConfig } from './config.js';
import type { InternalErrors } from '../errors/internal-errors.js';
import { parseDcgm } from './dcgm.js';
import { isFresh, scrapeEngineStats, type EngineStats } from './engine-stats.js';
import type { ReplicaRegistry } from './registry.js';
import type { ModelCard, Replica } from './replica.js';

export interface ReplicaClient {
  for(replica: Replica): Dispatcher;
}

/**
 * Keeps the registry true: probes each replica's GET /health, reads its GET /v1/models and
 * scrapes its GET /metrics (queue, running, KV cache, prefix cache) and, with the engine stats, its
 * gpuMetricsUrl (DCGM: GPU memory and utilisation), each on its own interval.
 * Logs a replica's health only when it changes, never per probe; stale engine figures are
 * dropped so they stop steering traffic.
 */
export class FleetMonitor {
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly registry: ReplicaRegistry,
    private readonly client: ReplicaClient,
    private readonly settings: HealthConfig,
    private readonly log: Logger,
    private readonly internalErrors: InternalErrors,
  ) {}

  /** Runs one probe and one model read of every replica, then keeps doing so on the intervals. */
  async start(): Promise<void> {
    await Promise.all([this.probeAll(), this.refreshAllModels(), this.scrapeAllEngines()]);
    if (this.stopped) return;
    this.timers.push(
      setInterval(this.internalErrors.guard('fleet_monitor', () => this.probeAll()), this.settings.probeIntervalMs).unref(),
      setInterval(this.internalErrors.guard('fleet_monitor', () => this.refreshAllModels()), this.settings.modelRefreshIntervalMs).unref(),
      setInterval(this.internalErrors.guard('fleet_monitor', () => this.scrapeAllEngines()), this.settings.engineStatsIntervalMs).unref(),
    );
  }

  /** One probe, model read and scrape of the given replicas now (replicas that just joined). */
  async look(replicas: readonly Replica[]): Promise<void> {
    await Promise.all(replicas.flatMap((replica) => [this.probe(replica), this.refreshModels(replica), this.scrapeEngine(replica)]));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }

  probeAll(): Promise<void> {
    return Promise.all(this.registry.replicas.map((replica) => this.probe(replica))).then(() => undefined);
  }

  refreshAllModels(): Promise<void> {
    return Promise.all(this.registry.replicas.map((replica) => this.refreshModels(replica))).then(() => undefined);
  }

  scrapeAllEngines(): Promise<void> {
    return Promise.all(this.registry.replicas.map((replica) => this.scrapeEngine(replica))).then(() => undefined);
  }

  private async scrapeEngine(replica: Replica): Promise<void> {
    await Promise.all([this.scrapeEngineStats(replica), this.scrapeGpu(replica)]);
  }

  private async scrapeGpu(replica: Replica): Promise<void> {
    const url = replica.gpuMetricsUrl;
    if (url === undefined) return;
    const now = performance.now();
    try {
      const { statusCode, body } = await this.getUrl(replica, url);
      if (statusCode !== 200) throw new Error(`GET ${url} answered ${statusCode}`);
      replica.gpuStats = parseDcgm(body, performance.now());
    } catch (error) {
      const stats = replica.gpuStats;
      if (stats !== undefined && now - stats.scrapedAt > this.settings.engineStatsMaxAgeMs) {
        this.log.warn({ replica: replica.name, err: describe(error) }, 'GPU figures are stale: no longer reported');
        replica.gpuStats = undefined;
      }
    }
  }

  private async scrapeEngineStats(replica: Replica): Promise<void> {
    const now = performance.now();
    try {
      const { statusCode, body } = await this.get(replica, '/metrics');
      if (statusCode !== 200) throw new Error(`GET /metrics answered ${statusCode}`);
      const { stats } = scrapeEngineStats(body, performance.now());
      replica.prefixCacheHitRatio = nextPrefixCacheHitRatio(replica.prefixCacheHitRatio, replica.engineStats, stats);
      replica.engineStats = stats;
    } catch (error) {
      if (replica.engineStats !== undefined && !isFresh(replica.engineStats, now, this.settings.engineStatsMaxAgeMs)) {
        this.log.warn({ replica: replica.name, err: describe(error) }, 'engine stats are stale: no longer used for routing');
        replica.engineStats = undefined;
        replica.prefixCacheHitRatio = undefined;
      }
    }
  }

  private async probe(replica: Replica): Promise<void> {
    try {
      const { statusCode } = await this.get(replica, '/health');
      this.setHealth(replica, statusCode === 200 ? undefined : `GET /health answered ${statusCode}`);
    } catch (error) {
      this.setHealth(replica, describe(error));
    }
  }

  private async refreshModels(replica: Replica): Promise<void> {
    try {
      const { statusCode, body } = await this.get(replica, '/v1/models');
      if (statusCode !== 200) {
        this.log.warn({ replica: replica.name, status: statusCode }, 'replica answered GET /v1/models with an error');
        return;
      }
      this.registry.updateModels(replica, parseModelList(body));
    } catch (error) {
      if (replica.discoversModels) {
        this.log.warn({ replica: replica.name, err: describe(error) }, 'cannot read the models of a replica (models: auto)');
      }
    }
  }

  private async get(replica: Replica, path: string): Promise<{ statusCode: number; body: string }> {
    const headers: Record<string, string> = replica.apiKey === undefined ? {} : { authorization: `Bearer ${replica.apiKey}` };
    const response = await this.client.for(replica).request({
      method: 'GET',
      path,
      headers,
      headersTimeout: this.settings.probeTimeoutMs,
      bodyTimeout: this.settings.probeTimeoutMs,
      signal: AbortSignal.timeout(this.settings.probeTimeoutMs),
    });
    const body = await response.body.text();
    return { statusCode: response.statusCode, body };
  }

  /** GET of a full URL: through the replica's pool when it is on the replica's origin, else on its own. */
  private async getUrl(replica: Replica, url: string): Promise<{ statusCode: number; body: string }> {
    const target = new URL(url);
    const options = {
      method: 'GET' as const,
      headersTimeout: this.settings.probeTimeoutMs,
      bodyTimeout: this.settings.probeTimeoutMs,
      signal: AbortSignal.timeout(this.settings.probeTimeoutMs),
    };
    const response =
      target.origin === replica.origin
        ? await this.client.for(replica).request({ ...options, path: `${target.pathname}${target.search}` })
        : await undiciRequest(target, options);
    const body = await response.body.text();
    return { statusCode: response.statusCode, body };
  }

  private setHealth(replica: Replica, problem: string | undefined): void {
    const next = problem === undefined ? 'healthy' : 'unhealthy';
    const previous = replica.health;
    replica.circuit.onProbe(next === 'healthy', performance.now());
    replica.health = next;
    replica.lastProbeError = problem;
    if (previous === next) return;
    if (next === 'healthy') this.log.info({ replica: replica.name, previous }, 'replica is healthy');
    else this.log.warn({ replica: replica.name, previous, reason: problem }, 'replica is unhealthy');
  }
}

/** Prefix-cache hit ratio between two scrapes of the same engine; undefined without new queries (or after a restart). */
/**
 * The prefix-cache hit ratio after a scrape: hits / queries between the last two reads, or, when
 * the engine answered no prompt in between, the ratio of the last interval that had some. Reads are
 * a few hundred milliseconds apart, so a replica between requests would otherwise blink in and out
 * of the gauge (and out of any scrape that lands in a quiet moment). Cleared with stale stats.
 */
export function nextPrefixCacheHitRatio(current: number | undefined, previous: EngineStats | undefined, next: EngineStats): number | undefined {
  return hitRatioBetween(previous, next) ?? current;
}

function hitRatioBetween(previous: EngineStats | undefined, next: EngineStats): number | undefined {
  if (previous?.prefixCacheQueries === undefined || previous.prefixCacheHits === undefined) return undefined;
  if (next.prefixCacheQueries === undefined || next.prefixCacheHits === undefined) return undefined;
  const queries = next.prefixCacheQueries - previous.prefixCacheQueries;
  const hits = next.prefixCacheHits - previous.prefixCacheHits;
  return queries > 0 && hits >= 0 ? Math.min(1, hits / queries) : undefined;
}

/** Reads vLLM's `{"object":"list","data":[{id,…}]}`; entries without a string id are ignored. */
export function parseModelList(body: string): ModelCard[] {
  const parsed: unknown = JSON.parse(body);
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { data?: unknown }).data)) {
    throw new Error('GET /v1/models did not answer a model list');
  }
  return ((parsed as { data: unknown[] }).data).filter(
    (entry): entry is ModelCard =>
      typeof entry === 'object' && entry !== null && typeof (entry as { id?: unknown }).id === 'string',
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
