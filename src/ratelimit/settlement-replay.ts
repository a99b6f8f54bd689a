import type { InternalErrors } from '../errors/internal-errors.js';
import type { FailoverLog } from './failover.js';
import type { RateLimitTicket, SettleUsage } from './limiter.js';
import { holdsLease, type RedisRateLimiter } from './redis-store.js';

/** Settlements kept at most while Redis cannot be reached (about 200 bytes each). */
export const DEFAULT_SETTLEMENT_QUEUE_CAP = 10_000;
/** A replay that failed (or a settlement queued while the connection stays up) is retried after this. */
const RETRY_MS = 1_000;
/** Replays sent together: ioredis pipelines them on the one connection. */
const BATCH = 64;

interface PendingSettlement {
  readonly ticket: RateLimitTicket;
  readonly usage: SettleUsage;
  /** performance.now() when queued: past the lease time the lease has expired and nothing is left to free. */
  readonly queuedAt: number;
}

export interface SettlementReplayOptions {
  readonly primary: RedisRateLimiter;
  readonly log: FailoverLog;
  /** The store's concurrencyLeaseMs: a settlement queued longer than that has nothing left to release. */
  readonly leaseMs: number;
  readonly cap?: number | undefined;
  /** Reports a background replay that failed outside its own handling (nothing awaits it). */
  readonly internalErrors: InternalErrors;
}

/**
 * Settlements of Redis tickets whose settle call failed or was not attempted, kept until Redis
 * answers again and then replayed (RedisRateLimiter.replaySettle: idempotent), so a network blip
 * or a restart with persistence does not hold a concurrency slot until its lease expires. Only
 * tickets holding a lease are kept: without a lease a replay could not tell whether the first
 * attempt took effect. The queue is bounded; when full the oldest entry is dropped (its lease is
 * the nearest to expiring on its own), and the drops are logged once per outage.
 */
export class SettlementReplay {
  readonly #primary: RedisRateLimiter;
  readonly #log: FailoverLog;
  readonly #leaseMs: number;
  readonly #cap: number;
  #queue: PendingSettlement[] = [];
  #inFlight = 0;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #dropped = 0;
  #droppedThisOutage = 0;
  #closed = false;

  readonly #replayInBackground: () => void;

  constructor(options: SettlementReplayOptions) {
    this.#replayInBackground = options.internalErrors.guard('settlement', () => this.replay());
    this.#primary = options.primary;
    this.#log = options.log;
    this.#leaseMs = options.leaseMs;
    this.#cap = options.cap ?? DEFAULT_SETTLEMENT_QUEUE_CAP;
    // ioredis emits 'ready' before it sends what it queued for the reconnect: replay after that, so a
    // client configured to resend unanswered commands runs a resent first attempt before its replay.
    this.#primary.onConnected(() => setImmediate(this.#replayInBackground));
  }

  /** Settlements waiting for Redis, those being replayed included. */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** Settlements dropped because the queue was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Keeps a failed settlement for replay (tickets without a lease have nothing a replay could safely do). */
  add(ticket: RateLimitTicket, usage: SettleUsage): void {
    if (this.#closed || !holdsLease(ticket)) return;
    if (this.#queue.length >= this.#cap) {
      this.#queue.shift();
      this.#dropped += 1;
      if (this.#droppedThisOutage++ === 0) {
        this.#log.warn(
          { store: 'redis', cap: this.#cap },
          'rate limit settlements waiting for Redis exceed the queue: dropping the oldest, whose concurrency slots stay taken until their leases expire',
        );
      }
    }
    this.#queue.push({ ticket, usage, queuedAt: performance.now() });
    this.#retryLater();
  }

  /** Replays what is queued while the connection is up; one run at a time, stops at the first failure. */
  replay(): Promise<void> {
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Stops retrying; one last replay is attempted when the connection is up. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#queue.length > 0 && this.#primary.connected) await this.replay();
    this.#queue = [];
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#primary.connected) {
      const expiredBefore = performance.now() - this.#leaseMs;
      const batch = this.#queue.splice(0, BATCH).filter((pending) => pending.queuedAt > expiredBefore);
      this.#inFlight = batch.length;
      const results = await Promise.allSettled(batch.map((pending) => this.#primary.replaySettle(pending.ticket, pending.usage)));
      this.#inFlight = 0;
      const failed = batch.filter((_pending, index) => results[index]!.status === 'rejected');
      if (failed.length > 0) {
        this.#queue.unshift(...failed);
        this.#retryLater();
        return;
      }
    }
    if (this.#queue.length === 0 && this.#droppedThisOutage > 0) {
      this.#log.info({ store: 'redis', dropped: this.#droppedThisOutage }, 'rate limit settlements replayed; some were dropped while Redis was unreachable');
      this.#droppedThisOutage = 0;
    }
  }

  /** A settlement can fail while the connection stays up (a timeout): no 'ready' will come, so retry on a timer. */
  #retryLater(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#queue.length > 0) this.#replayInBackground();
    }, RETRY_MS);
    this.#timer.unref();
  }
}
