import type { InternalErrors } from '../errors/internal-errors.js';
import { unavailableDecision } from './decision.js';
import type { BudgetedKey, BudgetSpendReader, BudgetSpendReading } from './budget-report.js';
import type { AdmitRequest, RateLimitDecision, RateLimiter, RateLimitTicket, SettleUsage } from './limiter.js';
import type { MemoryRateLimiter } from './memory-store.js';
import type { RedisRateLimiter } from './redis-store.js';
import { SettlementReplay } from './settlement-replay.js';
import type { KeyUsage, UsagePeriod, UsageReader } from './usage-counters.js';

const PROBE_INTERVAL_MS = 250;

export type StoreOperation = 'admit' | 'settle';

/**
 * What the limiter tells the outside about its store (the gateway turns these into Prometheus
 * instruments). Called synchronously on the request path: keep implementations to a counter
 * increment or a histogram observation.
 */
export interface RateLimitStoreObserver {
  /** A store call that returned, with its duration in seconds. */
  storeLatency(operation: StoreOperation, seconds: number): void;
  /** A store call that failed, or was not attempted because the connection is down. */
  storeError(operation: StoreOperation, reason: 'error' | 'not_attempted'): void;
  /** The store became unusable (degraded) or usable again (healthy): once per transition. */
  storeState(state: 'healthy' | 'degraded'): void;
}

/** The logger calls this wrapper makes (pino's Logger fits). */
export interface FailoverLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface FailoverRateLimiterOptions {
  /** Give it the same observer, so it reports the latency of the calls it makes. */
  readonly primary: RedisRateLimiter;
  /** Local buckets used while failing open (construct with store: 'local'). */
  readonly fallback: MemoryRateLimiter;
  readonly onStoreError: 'open' | 'closed';
  readonly unavailableRetryAfterMs: number;
  readonly log: FailoverLog;
  readonly observer?: RateLimitStoreObserver | undefined;
  /** The store's concurrencyLeaseMs: how long a failed settlement is worth replaying. */
  readonly concurrencyLeaseMs: number;
  /** Failed settlements kept for replay at most (default DEFAULT_SETTLEMENT_QUEUE_CAP). */
  readonly settlementQueueCap?: number | undefined;
  /** Guards the replays that run in the background. */
  readonly internalErrors: InternalErrors;
}

/**
 * The Redis-down policy. Never rejects: a store error becomes a local decision (open) or an
 * `unavailable` decision (closed). While the client is disconnected no command is attempted, so
 * an outage costs nothing per request; ioredis reconnects by itself and the first success switches
 * back. The switch and the recovery are logged once each. A settlement that fails is kept and
 * replayed once Redis answers (settlement-replay.ts), so its concurrency slot does not stay taken.
 */
export class FailoverRateLimiter implements RateLimiter, BudgetSpendReader, UsageReader {
  readonly #primary: RedisRateLimiter;
  readonly #fallback: MemoryRateLimiter;
  readonly #open: boolean;
  readonly #unavailable: RateLimitDecision;
  readonly #log: FailoverLog;
  readonly #observer: RateLimitStoreObserver | undefined;
  readonly #replay: SettlementReplay;
  #degraded = false;
  /** After a failed call the store is probed by one request per interval, not by every request. */
  #nextAttemptAt = 0;
  #failedConnection = -1;

  constructor(options: FailoverRateLimiterOptions) {
    this.#primary = options.primary;
    this.#fallback = options.fallback;
    this.#open = options.onStoreError === 'open';
    this.#unavailable = unavailableDecision(options.unavailableRetryAfterMs);
    this.#log = options.log;
    this.#observer = options.observer;
    this.#replay = new SettlementReplay({ primary: this.#primary, log: this.#log, leaseMs: options.concurrencyLeaseMs, cap: options.settlementQueueCap, internalErrors: options.internalErrors });
  }

  /** True while decisions are not made by Redis. */
  get degraded(): boolean {
    return this.#degraded;
  }

  /** Failed settlements waiting to be replayed, and those dropped because the queue was full. */
  get settlements(): { readonly pending: number; readonly dropped: number } {
    return { pending: this.#replay.pending, dropped: this.#replay.dropped };
  }

  async admit(request: AdmitRequest): Promise<RateLimitDecision> {
    if (!this.#primary.connected) return this.#withoutStore(request, 'not_attempted', undefined);
    // A connected but unresponsive Redis costs commandTimeoutMs per call: probe it, do not queue on it.
    if (this.#degraded && performance.now() < this.#nextAttemptAt && this.#primary.connections === this.#failedConnection) {
      return this.#withoutStore(request, 'not_attempted', undefined);
    }
    try {
      const decision = await this.#primary.admit(request);
      if (this.#degraded) this.#recovered();
      return decision;
    } catch (error) {
      this.#nextAttemptAt = performance.now() + PROBE_INTERVAL_MS;
      this.#failedConnection = this.#primary.connections;
      return this.#withoutStore(request, 'error', error);
    }
  }

  async settle(ticket: RateLimitTicket, usage: SettleUsage): Promise<void> {
    if (ticket.store !== 'redis') return this.#fallback.settle(ticket, usage);
    if (ticket.settled) return;
    if (!this.#primary.connected) {
      ticket.claimSettlement();
      this.#observer?.storeError('settle', 'not_attempted');
      this.#replay.add(ticket, usage);
      return;
    }
    try {
      await this.#primary.settle(ticket, usage);
    } catch (error) {
      this.#observer?.storeError('settle', 'error');
      this.#degrade(error);
      this.#replay.add(ticket, usage);
    }
  }

  /**
   * The shared counters from Redis, or undefined while Redis cannot be read: the local buckets'
   * counters would be one instance's share only, and the outage is already logged and counted.
   */
  async readBudgetSpend(keys: readonly BudgetedKey[]): Promise<BudgetSpendReading | undefined> {
    if (!this.#primary.connected) return undefined;
    try {
      return await this.#primary.readBudgetSpend(keys);
    } catch {
      return undefined;
    }
  }

  /** Every key's usage of a period from Redis, or undefined while Redis cannot be read (as readBudgetSpend). */
  async readUsage(period: UsagePeriod): Promise<readonly KeyUsage[] | undefined> {
    if (!this.#primary.connected) return undefined;
    try {
      return await this.#primary.readUsage(period);
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.#replay.close();
    await this.#primary.close();
    await this.#fallback.close();
  }

  #withoutStore(request: AdmitRequest, reason: 'error' | 'not_attempted', error: unknown): RateLimitDecision {
    this.#observer?.storeError('admit', reason);
    this.#degrade(error);
    return this.#open ? this.#fallback.admitNow(request) : this.#unavailable;
  }

  #degrade(error: unknown): void {
    if (this.#degraded) return;
    this.#degraded = true;
    this.#observer?.storeState('degraded');
    this.#log.warn(
      { store: 'redis', policy: this.#open ? 'open' : 'closed', error: error instanceof Error ? error.message : 'disconnected' },
      this.#open
        ? 'rate limit store unavailable: deciding with local per-instance buckets until Redis answers again'
        : 'rate limit store unavailable: refusing requests with 503 until Redis answers again',
    );
  }

  #recovered(): void {
    this.#degraded = false;
    this.#observer?.storeState('healthy');
    this.#log.info({ store: 'redis' }, 'rate limit store available again: decisions are shared through Redis');
    void this.#replay.replay();
  }
}
