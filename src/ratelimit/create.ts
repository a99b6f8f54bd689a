import type { RedisConfig } from '../redis/config.js';
import { closeRedisClient, createRedisClient } from '../redis/client.js';
import type { RateLimitConfig } from './config.js';
import { FailoverRateLimiter, type FailoverLog, type RateLimitStoreObserver } from './failover.js';
import type { RateLimiter } from './limiter.js';
import { MemoryRateLimiter } from './memory-store.js';
import { RedisRateLimiter } from './redis-store.js';

export interface CreateRateLimiterOptions {
  readonly rateLimits: RateLimitConfig;
  /** Required when rateLimits.store is 'redis'. */
  readonly redis?: RedisConfig | undefined;
  readonly log: FailoverLog;
  readonly observer?: RateLimitStoreObserver | undefined;
}

/**
 * The limiter the configuration asks for. memory: a MemoryRateLimiter. redis: its own ioredis
 * connection, the Redis store, and local buckets for the failure policy; close() closes the
 * connection it opened.
 */
export function createRateLimiter(options: CreateRateLimiterOptions): RateLimiter {
  const config = options.rateLimits;
  if (config.store === 'memory') return new MemoryRateLimiter({ config });
  if (options.redis === undefined) throw new Error('rateLimits.store is "redis" but there is no redis configuration');
  // Connection errors are reported through the failover's single log line and counters, not per event.
  const client = createRedisClient(options.redis, { connectionName: 'tollbooth-ratelimit', onError: () => {} });
  const limiter = new FailoverRateLimiter({
    primary: new RedisRateLimiter({ client, config, keyPrefix: options.redis.keyPrefix }),
    fallback: new MemoryRateLimiter({ config, store: 'local' }),
    onStoreError: config.onStoreError,
    unavailableRetryAfterMs: config.unavailableRetryAfterMs,
    log: options.log,
    observer: options.observer,
  });
  return {
    admit: (request) => limiter.admit(request),
    settle: (ticket, usage) => limiter.settle(ticket, usage),
    close: async () => {
      await limiter.close();
      await closeRedisClient(client);
    },
  };
}
