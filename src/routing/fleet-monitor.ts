import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { TollboothConfig } from '../config/schema.js';
import type { ReplicaRegistry } from './registry.js';
import type { ModelCard, Replica } from './replica.js';

export interface ReplicaClient {
  for(replica: Replica): Dispatcher;
}

/**
 * Keeps the registry true: probes each replica's GET /health and reads its GET /v1/models on
 * their own intervals. Logs a replica's health only when it changes, never per probe.
 */
export class FleetMonitor {
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly registry: ReplicaRegistry,
    private readonly client: ReplicaClient,
    private readonly settings: TollboothConfig['health'],
    private readonly log: Logger,
  ) {}

  /** Runs one probe and one model read of every replica, then keeps doing so on the intervals. */
  async start(): Promise<void> {
    await Promise.all([this.probeAll(), this.refreshAllModels()]);
    if (this.stopped) return;
    this.timers.push(
      setInterval(() => void this.probeAll(), this.settings.probeIntervalMs).unref(),
      setInterval(() => void this.refreshAllModels(), this.settings.modelRefreshIntervalMs).unref(),
    );
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

  private setHealth(replica: Replica, problem: string | undefined): void {
    const next = problem === undefined ? 'healthy' : 'unhealthy';
    const previous = replica.health;
    replica.health = next;
    replica.lastProbeError = problem;
    if (previous === next) return;
    if (next === 'healthy') this.log.info({ replica: replica.name, previous }, 'replica is healthy');
    else this.log.warn({ replica: replica.name, previous, reason: problem }, 'replica is unhealthy');
  }
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
