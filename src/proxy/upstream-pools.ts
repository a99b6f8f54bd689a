import { Pool } from 'undici';
import type { TollboothConfig } from '../config/schema.js';
import type { Replica } from '../routing/replica.js';

/** One keep-alive undici Pool per replica, shared by proxied requests, probes and discovery. */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(
    replicas: readonly Replica[],
    private readonly upstream: TollboothConfig['upstream'],
  ) {
    for (const replica of replicas) this.pools.set(replica.name, this.createPool(replica.origin));
  }

  for(replica: Replica): Pool {
    const pool = this.pools.get(replica.name);
    if (pool === undefined) throw new Error(`no upstream pool for replica ${replica.name}`);
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
  }

  private createPool(origin: string): Pool {
    return new Pool(origin, {
      connections: this.upstream.connectionsPerReplica,
      // One request per connection: a slow stream must never hold up the request queued behind it.
      pipelining: 1,
      connectTimeout: this.upstream.connectTimeoutMs,
      headersTimeout: this.upstream.headersTimeoutMs,
      bodyTimeout: this.upstream.bodyIdleTimeoutMs,
      keepAliveTimeout: this.upstream.keepAliveTimeoutMs,
      keepAliveMaxTimeout: this.upstream.keepAliveTimeoutMs,
    });
  }
}
