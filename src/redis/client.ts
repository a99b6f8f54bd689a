import { Redis } from 'ioredis';
import type { RedisConfig } from './config.js';

export interface RedisClientOptions {
  /** CLIENT SETNAME value, visible in CLIENT LIST (e.g. "tollbooth-ratelimit"). */
  readonly connectionName?: string;
  /**
   * Every connection error, however often it repeats. Without a listener ioredis would report
   * them as unhandled 'error' events; callers that want to log should deduplicate themselves.
   */
  readonly onError?: (error: Error) => void;
  /**
   * Queue commands issued while disconnected and send them after reconnecting. Off for the
   * request path (a decision must fail fast, not wait for Redis); a subscriber connection may
   * turn it on so SUBSCRIBE issued before the first connect is not refused.
   */
  readonly offlineQueue?: boolean;
}

const FIRST_RECONNECT_DELAY_MS = 50;

/** Delay before reconnection attempt `attempt` (1, 2, …): doubling, capped, never giving up. */
export function reconnectDelayMs(attempt: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, FIRST_RECONNECT_DELAY_MS * 2 ** Math.min(attempt - 1, 20));
}

/**
 * An ioredis client for code on the request path: connects at once, fails commands immediately
 * while disconnected, bounds each command by `commandTimeoutMs`, reconnects forever with capped
 * backoff, and never emits an unhandled 'error' event. Keys are not prefixed by the client
 * (callers build their keys from `config.keyPrefix`), so the same client serves Lua scripts,
 * plain commands and pub/sub alike.
 */
export function createRedisClient(config: RedisConfig, options: RedisClientOptions = {}): Redis {
  const offlineQueue = options.offlineQueue ?? false;
  const client = new Redis(config.url, {
    connectionName: options.connectionName,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    maxRetriesPerRequest: config.maxRetriesPerRequest,
    enableOfflineQueue: offlineQueue,
    // A command in flight when the connection dropped may have run: sending it again after the
    // reconnect could admit a request twice (a second concurrency lease that nobody settles). It
    // fails instead (its timeout), and the rate limiter's failure policy and settlement replay
    // take over. A subscriber (offline queue on) resends, as SUBSCRIBE is harmless to repeat.
    autoResendUnfulfilledCommands: offlineQueue,
    retryStrategy: (attempt) => reconnectDelayMs(attempt, config.reconnectMaxDelayMs),
    // A READONLY replica after a failover: reconnect, so the client finds the new primary.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  });
  const onError = options.onError;
  client.on('error', (error: Error) => onError?.(error));
  return client;
}

/** Closes a client politely, and forcefully if Redis does not answer QUIT in time. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** Resolves once the client is ready for commands; rejects after `timeoutMs` (boot checks, tests). */
export function redisReady(client: Redis, timeoutMs = 5_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis not ready within ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}
