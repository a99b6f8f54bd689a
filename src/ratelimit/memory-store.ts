import { budgetCapsNanos, budgetPeriods } from './budget-periods.js';
import type { BudgetedKey, BudgetSpendReader, BudgetSpendReading, KeySpend } from './budget-report.js';
import type { RateLimitConfig } from './config.js';
import { decide, figures, RefusalTracker, Severity } from './decision.js';
import {
  leaseIdGenerator,
  RateLimitTicket,
  type AdmitRequest,
  type BucketFigures,
  type LimitScope,
  type RateLimitDecision,
  type RateLimiter,
  type SettleUsage,
} from './limiter.js';
import { hasBudget, ScopeResolver, unlimited } from './scopes.js';
import { fullBucket, msUntilFull, reconcile, refilled, waitMs, type BucketSpec, type BucketState } from './token-bucket.js';
import { addUsage, settledUsage, usagePeriodsAt, usageRetained, USAGE_PERIOD_KINDS, type KeyUsage, type UsageCounts, type UsagePeriod, type UsageReader } from './usage-counters.js';

interface BudgetCounters {
  day: number;
  daySpentNanos: bigint;
  month: number;
  monthSpentNanos: bigint;
}

export interface MemoryRateLimiterOptions {
  readonly config: RateLimitConfig;
  /** Wall-clock milliseconds (budgets follow the UTC calendar); injectable for tests. */
  readonly now?: () => number;
  /** 'local' when this store stands in for Redis while Redis is down (decisions say so). */
  readonly store?: 'memory' | 'local';
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * Buckets, leases, budget and usage counters in this process: exact for one instance. The same
 * decisions as the Redis store's Lua, step for step (the shared behaviour table tests both).
 * Idle entries are swept once a minute (amortised in admit: no timer), so memory stays bounded
 * by the keys active within the last minute or so, and the usage counters by the keys active
 * within their retention (USAGE_RETENTION_MS).
 */
export class MemoryRateLimiter implements RateLimiter, BudgetSpendReader, UsageReader {
  readonly #config: RateLimitConfig;
  readonly #now: () => number;
  readonly #store: 'memory' | 'local';
  readonly #scopes: ScopeResolver;
  readonly #nextLeaseId = leaseIdGenerator();
  readonly #buckets = new Map<string, { spec: BucketSpec; state: BucketState }>();
  readonly #leases = new Map<string, Map<string, number>>();
  readonly #budgets = new Map<string, BudgetCounters>();
  /** Usage per period ("day:<n>", "month:<n>"), then per key id: kept while usageRetained. */
  readonly #usage = new Map<string, { period: UsagePeriod; keys: Map<string, { tenant: string; counts: UsageCounts }> }>();
  #lastSweepMs: number;

  constructor(options: MemoryRateLimiterOptions) {
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
    this.#store = options.store ?? 'memory';
    this.#scopes = new ScopeResolver(options.config);
    this.#lastSweepMs = this.#now();
  }

  async admit(request: AdmitRequest): Promise<RateLimitDecision> {
    return this.admitNow(request);
  }

  /** admit without the promise (what the wrapper calls when failing open). */
  admitNow(request: AdmitRequest): RateLimitDecision {
    const now = this.#now();
    if (now - this.#lastSweepMs >= SWEEP_INTERVAL_MS) this.#sweep(now);
    const scopes = this.#scopes.resolve(request);
    const budgeted = hasBudget(request.budget);
    if (!budgeted && unlimited(scopes)) {
      return decide(this.#store, Severity.None, undefined, undefined, 0, undefined, undefined, this.#ticket(request, scopes, false));
    }
    const reserved = request.reservedTokens;
    const refusal = new RefusalTracker();
    const requestStates: (BucketState | undefined)[] = [];
    const tokenStates: (BucketState | undefined)[] = [];
    for (const scope of scopes) {
      const requestState = scope.requests && this.#refilled(bucketKey(scope, 'rq'), scope.requests, now);
      requestStates.push(requestState);
      if (scope.requests !== undefined && requestState !== undefined) noteWait(refusal, 'requests', scope, waitMs(scope.requests, requestState, 1));
      const tokenState = scope.tokens && this.#refilled(bucketKey(scope, 'tk'), scope.tokens, now);
      tokenStates.push(tokenState);
      if (scope.tokens !== undefined && tokenState !== undefined) noteWait(refusal, 'tokens', scope, waitMs(scope.tokens, tokenState, reserved));
      if (scope.maxConcurrent !== undefined && this.#liveLeases(bucketKey(scope, 'cc'), now) >= scope.maxConcurrent) {
        refusal.note(Severity.Wait, 'concurrency', scope.kind, this.#config.concurrencyRetryAfterMs);
      }
    }
    if (budgeted) this.#checkBudget(request, now, refusal);

    const admitted = refusal.severity === Severity.None;
    const ticket = admitted ? this.#ticket(request, scopes, budgeted) : undefined;
    if (admitted) {
      scopes.forEach((scope, index) => {
        const requestState = requestStates[index];
        if (scope.requests !== undefined && requestState !== undefined) {
          requestStates[index] = this.#put(bucketKey(scope, 'rq'), scope.requests, requestState.tokens - 1, now);
        }
        const tokenState = tokenStates[index];
        if (scope.tokens !== undefined && tokenState !== undefined) {
          tokenStates[index] = this.#put(bucketKey(scope, 'tk'), scope.tokens, tokenState.tokens - reserved, now);
        }
        if (scope.maxConcurrent !== undefined && ticket !== undefined) this.#addLease(bucketKey(scope, 'cc'), ticket.leaseId, now);
      });
    }
    const own = scopes[0];
    return decide(
      this.#store,
      refusal.severity,
      refusal.limit,
      refusal.scope,
      refusal.waitMs,
      bucketFigures(own?.requests, requestStates[0]),
      bucketFigures(own?.tokens, tokenStates[0]),
      ticket,
    );
  }

  async settle(ticket: RateLimitTicket, usage: SettleUsage): Promise<void> {
    this.settleNow(ticket, usage);
  }

  settleNow(ticket: RateLimitTicket, usage: SettleUsage): void {
    if (!ticket.claimSettlement()) return;
    const now = this.#now();
    const extraTokens = usage.tokens - ticket.reservedTokens;
    for (const scope of ticket.scopes) {
      if (scope.tokens !== undefined && extraTokens !== 0) {
        const key = bucketKey(scope, 'tk');
        const state = this.#buckets.get(key)?.state ?? fullBucket(scope.tokens, now);
        this.#buckets.set(key, { spec: scope.tokens, state: reconcile(scope.tokens, state, extraTokens, now) });
      }
      if (scope.maxConcurrent !== undefined) this.#leases.get(bucketKey(scope, 'cc'))?.delete(ticket.leaseId);
    }
    if (ticket.budgeted && usage.costNanos !== 0n) this.#charge(ticket.keyId, usage.costNanos, now);
    this.#count(ticket, settledUsage(usage.tokenCounts, usage.costNanos), now);
  }

  async readUsage(period: UsagePeriod): Promise<readonly KeyUsage[]> {
    const keys = this.#usage.get(usagePeriodKey(period))?.keys;
    if (keys === undefined || !usageRetained(period, this.#now())) return [];
    return [...keys].map(([keyId, { tenant, counts }]) => ({ keyId, tenant, ...counts }));
  }

  async readBudgetSpend(keys: readonly BudgetedKey[]): Promise<BudgetSpendReading> {
    const now = this.#now();
    const periods = budgetPeriods(now);
    const spends = new Map<string, KeySpend>();
    for (const { keyId } of keys) {
      const counters = this.#budgets.get(keyId);
      if (counters === undefined) continue;
      spends.set(keyId, {
        daySpentNanos: counters.day === periods.day ? counters.daySpentNanos : 0n,
        monthSpentNanos: counters.month === periods.month ? counters.monthSpentNanos : 0n,
      });
    }
    return { atMs: now, store: 'memory', spends };
  }

  async close(): Promise<void> {
    this.#buckets.clear();
    this.#leases.clear();
    this.#budgets.clear();
    this.#usage.clear();
  }

  /** Entries held (buckets + lease sets + budget counters): for tests of the sweep. */
  get size(): number {
    return this.#buckets.size + this.#leases.size + this.#budgets.size;
  }

  /** Usage counters held (one per key and period): for tests of the sweep. */
  get usageEntries(): number {
    let entries = 0;
    for (const { keys } of this.#usage.values()) entries += keys.size;
    return entries;
  }

  #ticket(request: AdmitRequest, scopes: readonly LimitScope[], budgeted: boolean): RateLimitTicket {
    return new RateLimitTicket(this.#nextLeaseId(), request.requestId, this.#store, request.keyId, request.reservedTokens, scopes, budgeted, '', request.tenant);
  }

  /** The settle script's usage step: the key's day and month counters, the tenant of this request. */
  #count(ticket: RateLimitTicket, counts: UsageCounts, now: number): void {
    const periods = usagePeriodsAt(now);
    for (const kind of USAGE_PERIOD_KINDS) {
      const period = periods[kind];
      const periodKey = usagePeriodKey(period);
      let entry = this.#usage.get(periodKey);
      if (entry === undefined) {
        entry = { period, keys: new Map() };
        this.#usage.set(periodKey, entry);
      }
      const previous = entry.keys.get(ticket.keyId)?.counts;
      entry.keys.set(ticket.keyId, { tenant: ticket.tenant, counts: previous === undefined ? counts : addUsage(previous, counts) });
    }
  }

  #refilled(key: string, spec: BucketSpec, now: number): BucketState {
    const entry = this.#buckets.get(key);
    return entry === undefined ? fullBucket(spec, now) : refilled(spec, entry.state, now);
  }

  #put(key: string, spec: BucketSpec, tokens: number, now: number): BucketState {
    const state = { tokens, updatedAtMs: now };
    this.#buckets.set(key, { spec, state });
    return state;
  }

  #liveLeases(key: string, now: number): number {
    const leases = this.#leases.get(key);
    if (leases === undefined) return 0;
    for (const [id, expiresAt] of leases) if (expiresAt <= now) leases.delete(id);
    return leases.size;
  }

  #addLease(key: string, leaseId: string, now: number): void {
    let leases = this.#leases.get(key);
    if (leases === undefined) {
      leases = new Map();
      this.#leases.set(key, leases);
    }
    leases.set(leaseId, now + this.#config.concurrencyLeaseMs);
  }

  #checkBudget(request: AdmitRequest, now: number, refusal: RefusalTracker): void {
    const budget = request.budget;
    const counters = this.#budgets.get(request.keyId);
    if (budget === undefined || counters === undefined) return;
    const periods = budgetPeriods(now);
    const caps = budgetCapsNanos(budget);
    if (caps.daily !== undefined && counters.day === periods.day && counters.daySpentNanos >= caps.daily) {
      refusal.note(Severity.Budget, 'budget', 'key', periods.dayEndsAtMs - now);
    }
    if (caps.monthly !== undefined && counters.month === periods.month && counters.monthSpentNanos >= caps.monthly) {
      refusal.note(Severity.Budget, 'budget', 'key', periods.monthEndsAtMs - now);
    }
  }

  #charge(keyId: string, costNanos: bigint, now: number): void {
    const periods = budgetPeriods(now);
    let counters = this.#budgets.get(keyId);
    if (counters === undefined) {
      counters = { day: periods.day, daySpentNanos: 0n, month: periods.month, monthSpentNanos: 0n };
      this.#budgets.set(keyId, counters);
    }
    if (counters.day !== periods.day) {
      counters.day = periods.day;
      counters.daySpentNanos = 0n;
    }
    if (counters.month !== periods.month) {
      counters.month = periods.month;
      counters.monthSpentNanos = 0n;
    }
    counters.daySpentNanos += costNanos;
    counters.monthSpentNanos += costNanos;
  }

  /** Drops what carries no information any more: full buckets, empty lease sets, past budget months, usage past its retention. */
  #sweep(now: number): void {
    this.#lastSweepMs = now;
    for (const [key, { spec, state }] of this.#buckets) {
      if (refilled(spec, state, now).tokens >= spec.capacity) this.#buckets.delete(key);
    }
    for (const [key] of this.#leases) if (this.#liveLeases(key, now) === 0) this.#leases.delete(key);
    const month = budgetPeriods(now).month;
    for (const [keyId, counters] of this.#budgets) if (counters.month !== month) this.#budgets.delete(keyId);
    for (const [periodKey, { period }] of this.#usage) if (!usageRetained(period, now)) this.#usage.delete(periodKey);
  }
}

function usagePeriodKey(period: UsagePeriod): string {
  return `${period.kind}:${period.index}`;
}

function bucketKey(scope: LimitScope, kind: 'rq' | 'tk' | 'cc'): string {
  return `${scope.kind}\u0000${scope.name}\u0000${kind}`;
}

function noteWait(refusal: RefusalTracker, limit: 'requests' | 'tokens', scope: LimitScope, wait: number | undefined): void {
  if (wait === undefined) refusal.note(Severity.Never, limit, scope.kind, 0);
  else if (wait > 0) refusal.note(Severity.Wait, limit, scope.kind, wait);
}

function bucketFigures(spec: BucketSpec | undefined, state: BucketState | undefined): BucketFigures | undefined {
  return spec === undefined || state === undefined ? undefined : figures(spec.capacity, state.tokens, msUntilFull(spec, state));
}
