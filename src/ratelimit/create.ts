import type { RedisConfig } from '../redis/config.js';
import type { InternalErrors } from '../errors/internal-errors.js';
import { closeRedisClient, createRedisClient, redisReady } from '../redis/client.js';
import type { RateLimitConfig } from './config.js';
import { FailoverRateLimiter, type FailoverLog, type RateLimitStoreObserver } from './failover.js';
import type { BudgetSpendReader } from './budget-report.js';
import type { RateLimiter } from './limiter.js';
import type { UsageReader } from './usage-counters.js';
import { MemoryRateLimiter } from './memory-store.js';
import { RedisRateLimiter } from './redis-store.js';

export interface CreateRateLimiterOptions {
  readonly rateLimits: RateLimitConfig;
  /** Required when rateLimits.store is 'redis'. */
  readonly redis?: RedisConfig | undefined;
  readonly log: FailoverLog;
  readonly observer?: RateLimitStoreObserver | undefined;
  /** Guards work the Redis store does in the background (settlement replays). */
  readonly internalErrors: InternalErrors;
}

export interface ConfiguredRateLimiter extends RateLimiter, BudgetSpendReader, UsageReader {
  /**
   * Resolves once the store can decide (at once for memory; Redis connected for redis). Await it
   * at boot so the first requests are not decided by the failure policy; it rejects after
   * `timeoutMs`, and the limiter keeps working (failure policy, reconnecting) either way.
   */
  ready(timeoutMs?: number): Promise<void>;
}

/**
 * The limiter the configuration asks for. memory: a MemoryRateLimiter. redis: its own ioredis
 * connection, the Redis store, and local buckets for the failure policy; close() closes the
 * connection it opened.
 */
export function createRateLimiter(options: CreateRateLimiterOptions): ConfiguredRateLimiter {
  const config = options.rateLimits;
  if (config.store === 'memory') {
    const memory = new MemoryRateLimiter({ config });
    return {
      admit: (request) => memory.admit(request),
      settle: (ticket, usage) => memory.settle(ticket, usage),
      readBudgetSpend: (keys) => memory.readBudgetSpend(keys),
      readUsage: (period) => memory.readUsage(period),
      close: () => memory.close(),
      ready: async () => {},
    };
  }
  if (options.redis === undefined) throw new Error('rateLimits.store is "redis" but there is no redis configuration');
  // Connection errors are reported through the failover's single log line and counters, not per event.
  const client = createRedisClient(options.redis, { connectionName: 'tollbooth-ratelimit', onError: () => {} });
  const limiter = new FailoverRateLimiter({
    primary: new RedisRateLimiter({ client, config, keyPrefix: options.redis.keyPrefix, observer: options.observer }),
    fallback: new MemoryRateLimiter({ config, store: 'local' }),
    onStoreError: config.onStoreError,
    unavailableRetryAfterMs: config.unavailableRetryAfterMs,
    concurrencyLeaseMs: config.concurrencyLeaseMs,
    log: options.log,
    observer: options.observer,
    internalErrors: options.internalErrors,
  });
  return {
    admit: (request) => limiter.admit(request),
    settle: (ticket, usage) => limiter.settle(ticket, usage),
    readBudgetSpend: (keys) => limiter.readBudgetSpend(keys),
    readUsage: (period) => limiter.readUsage(period),
    ready: (timeoutMs) => redisReady(client, timeoutMs),
    close: async () => {
      await limiter.close();
      await closeRedisClient(client);
    },
  };
}
