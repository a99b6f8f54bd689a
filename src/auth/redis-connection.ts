import { Redis } from 'ioredis';

/** Where the key store lives in Redis: the shared connection URL and the prefix of every name. */
export interface KeyStoreRedisSettings {
  readonly url: string;
  readonly keyPrefix: string;
}

/** Creates one Redis connection; the key source needs two (commands, and a subscriber). */
export type RedisClientFactory = (connectionName: string) => Redis;

/**
 * Connections that fail fast instead of queueing while Redis is down (a resync that cannot run
 * is retried by the next one; a queue would replay a pile of stale reloads) and reconnect on
 * their own, backing off to one attempt per second.
 */
export function keyStoreRedisClientFactory(url: string): RedisClientFactory {
  return (connectionName) =>
    new Redis(url, {
      connectionName,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 50, 1_000),
      // A stop while Redis is down would otherwise keep the process alive for 2 s (a timer on an already closed socket).
      disconnectTimeout: 200,
    });
}
