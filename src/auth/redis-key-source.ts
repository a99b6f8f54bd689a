import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedisClient } from '../redis/client.js';
import { InternalErrors } from '../errors/internal-errors.js';
import type { KeyRing } from './key-ring.js';
import { RedisKeyStore } from './redis-key-store.js';

/** Creates one Redis connection; the key source needs two (commands, and a subscriber). */
export type RedisClientFactory = (connectionName: string) => Redis;

export interface RedisKeySourceOptions {
  readonly ring: KeyRing;
  readonly createClient: RedisClientFactory;
  readonly keyPrefix: string;
  /** Full reload period: the safety net for a change announced while this instance was not listening. */
  readonly resyncIntervalMs: number;
  /** How long `start` waits for the first load before it carries on with no Redis keys (and keeps trying). */
  readonly startTimeoutMs?: number;
  readonly log: Logger;
  /** Reports a reload that failed outside its own handling (listeners and the timer await nothing); a guard logging to `log` by default. */
  readonly internalErrors?: InternalErrors;
}

export interface RedisKeySource {
  /** Reloads now (tests, admin); resolves when this reload has finished or failed. */
  resync(reason: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps the ring's `redis` share equal to the Redis key store: loaded at start, reloaded on every
 * change announced on the store's channel, after every reconnect (announcements may have been
 * missed) and periodically. While Redis is unreachable the last loaded set stays in force; the
 * outage is logged once when it starts and once when it ends, never per request (requests never
 * touch Redis here).
 */
export async function startRedisKeySource(options: RedisKeySourceOptions): Promise<RedisKeySource> {
  const { ring, log } = options;
  const commands = options.createClient('tollbooth-auth');
  const subscriber = options.createClient('tollbooth-auth-changes');
  const store = new RedisKeyStore(commands, options.keyPrefix);
  const channel = store.names.changesChannel;

  let markLoaded: () => void = () => {};
  const loaded = new Promise<void>((resolve) => {
    markLoaded = resolve;
  });
  let unreachableSince: number | undefined;
  /** Outages begun so far: a load that started before the latest one began proves nothing about now. */
  let outagesBegun = 0;
  let lastProblems = '';
  let stopped = false;
  const noteOutage = (error: Error): void => {
    if (stopped || unreachableSince !== undefined) return;
    unreachableSince = Date.now();
    outagesBegun += 1;
    log.error({ err: error.message, keys: ring.size }, 'Redis key store unreachable: serving the last known keys until it is back');
  };
  const noteRecovery = (): void => {
    if (unreachableSince === undefined) return;
    log.warn({ outage_ms: Date.now() - unreachableSince }, 'Redis key store reachable again: keys resynchronised');
    unreachableSince = undefined;
  };
  commands.on('error', noteOutage);
  subscriber.on('error', noteOutage);

  // Reloads run one at a time; a request for one while another runs is folded into one more.
  let running: Promise<void> | undefined;
  let again = false;
  const loadOnce = async (reason: string): Promise<void> => {
    const outagesBefore = outagesBegun;
    try {
      const { keys, problems } = await store.load();
      ring.replaceSource('redis', keys);
      markLoaded();
      // The reply may have been read just after the other connection reported the server gone
      // (the two sockets' events come in either order): its keys were true when read, but only a
      // load issued while the outage was already known shows that Redis is back.
      if (outagesBegun === outagesBefore) noteRecovery();
      const signature = problems.join('\n');
      if (signature !== lastProblems && problems.length > 0) log.error({ problems }, 'Redis key store holds invalid entries: they are ignored');
      lastProblems = signature;
      log.debug({ reason, keys: keys.length }, 'Redis keys loaded');
    } catch (error) {
      noteOutage(error as Error);
    }
  };
  const resync = (reason: string): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await loadOnce(reason);
      } while (again && !stopped);
      running = undefined;
    })();
    return running;
  };

  const resyncGuarded = (options.internalErrors ?? new InternalErrors(log)).guard('key_reload', resync);
  subscriber.on('message', (from: string) => {
    if (from === channel) resyncGuarded('change announced');
  });
  const listen = (): void => {
    subscriber.subscribe(channel).then(
      () => resyncGuarded('subscribed'),
      (error: Error) => noteOutage(error),
    );
  };
  subscriber.on('ready', listen);
  commands.on('ready', () => resyncGuarded('connected'));
  if (subscriber.status === 'ready') listen();

  const timer = setInterval(() => resyncGuarded('periodic'), options.resyncIntervalMs);
  timer.unref();

  if (!(await within(loaded, options.startTimeoutMs ?? 5_000))) {
    noteOutage(new Error('the key store could not be read at start; no Redis keys are accepted until it can'));
  }

  return {
    resync,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await Promise.all([closeRedisClient(subscriber), closeRedisClient(commands)]);
      await running;
    },
  };
}

async function within(promise: Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const outcome = await Promise.race([promise.then(() => true), timedOut]);
  clearTimeout(timer);
  return outcome;
}
