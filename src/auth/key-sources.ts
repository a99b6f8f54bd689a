import type { Logger } from 'pino';
import type { AuthConfig } from './config.js';
import { KeyRing } from './key-ring.js';
import { watchKeysFile } from './keys-file.js';
import { createRedisClient } from '../redis/client.js';
import { InternalErrors } from '../errors/internal-errors.js';
import type { RedisConfig } from '../redis/config.js';
import { startRedisKeySource, type RedisClientFactory } from './redis-key-source.js';

export interface StartKeyRingOptions {
  readonly auth: AuthConfig;
  /** The top-level `redis` section; required when `auth.store` is `redis`. */
  readonly redis?: RedisConfig | undefined;
  /** Overrides how Redis connections are made (a shared factory, tests). */
  readonly createRedisClient?: RedisClientFactory;
  readonly log: Logger;
  /** Guards reloads nothing awaits (file watcher, Redis listeners, resync timer); a new guard logging to `log` by default. */
  readonly internalErrors?: InternalErrors;
}

export interface RunningKeyRing {
  readonly ring: KeyRing;
  /** Applies the inline keys of a reloaded configuration (the keys file and Redis reload on their own). */
  applyConfig(auth: AuthConfig): void;
  /** Stops the keys-file watcher and closes the Redis connections. */
  stop(): Promise<void>;
}

/**
 * Builds the key ring from every configured source: inline keys (config or TOLLBOOTH_AUTH_KEYS),
 * the keys file, and the Redis store. Throws `KeysFileError` when the keys file is broken at boot.
 */
export async function startKeyRing(options: StartKeyRingOptions): Promise<RunningKeyRing> {
  const { auth, log } = options;
  const internalErrors = options.internalErrors ?? new InternalErrors(log);
  const ring = new KeyRing({ log });
  ring.replaceSource('config', auth.keys);
  const stoppers: (() => void | Promise<void>)[] = [];
  try {
    if (auth.keysFile !== undefined) {
      const watcher = watchKeysFile(auth.keysFile, ring, log, internalErrors);
      stoppers.push(() => watcher.stop());
    }
    if (auth.store === 'redis') {
      if (options.redis === undefined) throw new Error('auth.store is "redis" but the configuration has no redis section');
      const source = await startRedisKeySource({
        ring,
        createClient: options.createRedisClient ?? redisClientFactory(options.redis),
        keyPrefix: options.redis.keyPrefix,
        resyncIntervalMs: auth.resyncIntervalMs,
        log,
        internalErrors,
      });
      stoppers.push(() => source.stop());
    }
  } catch (error) {
    await Promise.all(stoppers.map((stop) => stop()));
    throw error;
  }
  log.info({ sources: ring.describe(), keys: ring.size }, 'API keys loaded');
  return {
    ring,
    applyConfig: (next) => ring.replaceSource('config', next.keys),
    stop: async () => {
      await Promise.all(stoppers.map((stop) => stop()));
    },
  };
}

/** The shared request-path client settings (fail fast while down, reconnect forever); errors are handled by the key source. */
export function redisClientFactory(redis: RedisConfig): RedisClientFactory {
  return (connectionName) => createRedisClient(redis, { connectionName });
}
