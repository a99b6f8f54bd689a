import { Pool } from 'undici';
import type { UpstreamConfig } from './config.js';
import type { Replica } from '../routing/replica.js';

/**
 * One keep-alive undici Pool per replica, shared by proxied requests, probes and scrapes; made
 * when a replica is first used, closed gracefully (in-flight requests finish) when it leaves.
 */
export class UpstreamPools {
  private readonly pools = new Map<Replica, Pool>();

  constructor(private readonly upstream: UpstreamConfig) {}

  for(replica: Replica): Pool {
    let pool = this.pools.get(replica);
    if (pool === undefined) {
      pool = this.createPool(replica.origin);
      this.pools.set(replica, pool);
    }
    return pool;
  }

  /** A replica left the fleet: its pool closes once its in-flight requests are done. */
  retire(replica: Replica): Promise<void> {
    const pool = this.pools.get(replica);
    this.pools.delete(replica);
    return pool === undefined ? Promise.resolve() : pool.close();
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
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
