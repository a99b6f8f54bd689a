import type { Redis } from 'ioredis';
import { budgetCapsNanos, budgetPeriods } from './budget-periods.js';
import type { BudgetedKey, BudgetSpendReader, BudgetSpendReading, KeySpend } from './budget-report.js';
import type { RateLimitConfig } from './config.js';
import { decide, figures, type Severity } from './decision.js';
import {
  leaseIdGenerator,
  RateLimitTicket,
  type AdmitRequest,
  type BucketFigures,
  type LimitKind,
  type LimitScope,
  type RateLimitDecision,
  type RateLimiter,
  type SettleUsage,
} from './limiter.js';
import type { RateLimitStoreObserver } from './failover.js';
import { ADMIT_LUA, SETTLE_LUA } from './redis-scripts.js';
import { hasBudget, ScopeResolver, unlimited } from './scopes.js';
import type { BucketSpec } from './token-bucket.js';
import { settledUsage, USAGE_RETENTION_MS, type KeyUsage, type UsagePeriod, type UsageReader } from './usage-counters.js';

export interface RedisRateLimiterOptions {
  /** A client from createRedisClient (src/redis/client.ts); the limiter does not own it. */
  readonly client: Redis;
  readonly config: RateLimitConfig;
  /** The redis config's keyPrefix, e.g. "tollbooth:". */
  readonly keyPrefix: string;
  /** Told the duration of every script call that returned (calls skipped for unlimited keys are not). */
  readonly observer?: Pick<RateLimitStoreObserver, 'storeLatency'> | undefined;
}

type ScriptRunner = (numberOfKeys: number, ...keysAndArgs: string[]) => Promise<unknown>;

const ADMIT_COMMAND = 'tollboothRateLimitAdmit';
const SETTLE_COMMAND = 'tollboothRateLimitSettle';
const LIMIT_CODES: readonly (LimitKind | undefined)[] = [undefined, 'requests', 'tokens', 'concurrency', 'budget'];

/**
 * The shared store: one EVALSHA per admission and one per settlement (ioredis defineCommand
 * falls back to EVAL after a Redis restart forgot the script). Errors are thrown to the caller:
 * FailoverRateLimiter turns them into the configured policy.
 *
 * Keys are grouped under one Redis Cluster hash tag per script call: the key's id when only key
 * limits exist, its tenant when tenant limits are configured (a tenant bucket and its keys' buckets
 * must share a slot), and one tag for everything when model limits are configured (a model's
 * bucket is shared by keys of every tenant).
 */
export class RedisRateLimiter implements RateLimiter, BudgetSpendReader, UsageReader {
  readonly #client: Redis;
  readonly #config: RateLimitConfig;
  readonly #prefix: string;
  readonly #scopes: ScopeResolver;
  readonly #grouping: 'key' | 'tenant' | 'global';
  readonly #nextLeaseId = leaseIdGenerator();
  readonly #admitScript: ScriptRunner;
  readonly #settleScript: ScriptRunner;
  #connections = 0;
  readonly #observer: Pick<RateLimitStoreObserver, 'storeLatency'> | undefined;

  constructor(options: RedisRateLimiterOptions) {
    this.#client = options.client;
    this.#config = options.config;
    this.#prefix = options.keyPrefix;
    this.#observer = options.observer;
    this.#scopes = new ScopeResolver(options.config);
    const shared = this.#scopes.sharedScopes;
    this.#grouping = shared.models ? 'global' : shared.tenants ? 'tenant' : 'key';
    this.#client.defineCommand(ADMIT_COMMAND, { lua: ADMIT_LUA });
    this.#client.defineCommand(SETTLE_COMMAND, { lua: SETTLE_LUA });
    const commands = this.#client as unknown as Record<string, ScriptRunner>;
    this.#admitScript = commands[ADMIT_COMMAND]!.bind(this.#client);
    this.#settleScript = commands[SETTLE_COMMAND]!.bind(this.#client);
    if (this.#client.status === 'ready') this.#connections = 1;
    this.#client.on('ready', () => {
      this.#connections += 1;
    });
  }

  /** How many times the client has become ready: a new value means a fresh connection worth trying. */
  get connections(): number {
    return this.#connections;
  }

  /** Whether the connection is up: while it is not, commands would fail at once anyway. */
  get connected(): boolean {
    return this.#client.status === 'ready';
  }

  async admit(request: AdmitRequest): Promise<RateLimitDecision> {
    const scopes = this.#scopes.resolve(request);
    const budget = request.budget;
    const budgeted = hasBudget(budget);
    const tag = this.#hashTag(request);
    const ticket = new RateLimitTicket(this.#nextLeaseId(), request.requestId, 'redis', request.keyId, request.reservedTokens, scopes, budgeted, tag, request.tenant);
    if (!budgeted && unlimited(scopes)) return decide('redis', 0, undefined, undefined, 0, undefined, undefined, ticket);

    const keys: string[] = [];
    const args: string[] = [
      String(request.reservedTokens),
      ticket.leaseId,
      String(this.#config.concurrencyLeaseMs),
      String(this.#config.concurrencyRetryAfterMs),
      String(scopes.length),
    ];
    for (const scope of scopes) {
      const base = this.#scopeKey(tag, scope);
      keys.push(`${base}:rq`, `${base}:tk`, `${base}:cc`);
      args.push(...specArgs(scope.requests), ...specArgs(scope.tokens), String(scope.maxConcurrent ?? 0));
    }
    keys.push(this.#budgetKey(tag, request.keyId));
    const caps = budget === undefined ? undefined : budgetCapsNanos(budget);
    args.push(nanosArg(caps?.daily), nanosArg(caps?.monthly));

    const startedAt = performance.now();
    const reply = (await this.#admitScript(keys.length, ...keys, ...args)) as number[];
    this.#observer?.storeLatency('admit', (performance.now() - startedAt) / 1000);
    const [admitted, limitCode, scopeIndex, severity, waitMs, rqRemaining, rqReset, tkRemaining, tkReset] = reply as [number, number, number, number, number, number, number, number, number];
    const own = scopes[0]!;
    return decide(
      'redis',
      severity as Severity,
      LIMIT_CODES[limitCode],
      scopes[scopeIndex - 1]?.kind,
      waitMs,
      replyFigures(own.requests, rqRemaining, rqReset),
      replyFigures(own.tokens, tkRemaining, tkReset),
      admitted === 1 ? ticket : undefined,
    );
  }

  /** One script call for every settlement: it counts the key's usage even when nothing else changes. */
  async settle(ticket: RateLimitTicket, usage: SettleUsage): Promise<void> {
    if (!ticket.claimSettlement()) return;
    await this.#runSettle(ticket, usage, false);
  }

  /**
   * Retries the settlement of a ticket whose settle failed (it may or may not have reached Redis).
   * Safe to repeat: it releases the ticket's leases and reconciles only if a lease was still held,
   * so a settlement that did take effect is not applied twice. Only tickets that hold a lease can
   * be replayed. Resolves true when the replay released a lease.
   */
  async replaySettle(ticket: RateLimitTicket, usage: SettleUsage): Promise<boolean> {
    if (!holdsLease(ticket)) return false;
    return (await this.#runSettle(ticket, usage, true)) > 0;
  }

  /**
   * The shared counters of the given keys: one pipeline (TIME, then one HMGET per key), so every
   * instance reads the same figures, judged by Redis's clock like the scripts that write them. A
   * counter of a past day or month reads as 0, as the admit script treats it.
   */
  async readBudgetSpend(keys: readonly BudgetedKey[]): Promise<BudgetSpendReading> {
    const pipeline = this.#client.pipeline().time();
    for (const key of keys) pipeline.hmget(this.#budgetKey(this.#hashTag(key), key.keyId), 'd', 'ds', 'm', 'ms');
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error !== null) throw error;
    const [seconds, micros] = replies[0]![1] as [string, string];
    const atMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const periods = budgetPeriods(atMs);
    const spends = new Map<string, KeySpend>();
    keys.forEach((key, index) => {
      const [day, daySpent, month, monthSpent] = replies[index + 1]![1] as [string | null, string | null, string | null, string | null];
      if (day === null && month === null) return;
      spends.set(key.keyId, {
        daySpentNanos: Number(day) === periods.day ? BigInt(daySpent ?? '0') : 0n,
        monthSpentNanos: Number(month) === periods.month ? BigInt(monthSpent ?? '0') : 0n,
      });
    });
    return { atMs, store: 'redis', spends };
  }

  readUsage(period: UsagePeriod): Promise<readonly KeyUsage[]> {
    return readRedisUsage(this.#client, this.#prefix, period);
  }

  /** Calls `listener` each time the connection becomes ready (after a reconnect too). */
  onConnected(listener: () => void): void {
    this.#client.on('ready', listener);
  }

  async #runSettle(ticket: RateLimitTicket, usage: SettleUsage, replay: boolean): Promise<number> {
    const { extraTokens, charge } = settlementOf(ticket, usage);
    const keys: string[] = [];
    const args: string[] = [String(extraTokens), ticket.leaseId, String(ticket.scopes.length)];
    for (const scope of ticket.scopes) {
      const base = this.#scopeKey(ticket.hashTag, scope);
      keys.push(`${base}:tk`, `${base}:cc`);
      args.push(...specArgs(scope.tokens), scope.maxConcurrent === undefined ? '0' : '1');
    }
    keys.push(this.#budgetKey(ticket.hashTag, ticket.keyId), `${this.#prefix}{${ticket.hashTag}}:usage:${ticket.keyId}`);
    const counts = settledUsage(usage.tokenCounts, usage.costNanos);
    args.push(usage.costNanos.toString(), charge ? '1' : '0', replay ? '1' : '0');
    args.push(ticket.keyId, ticket.tenant, String(counts.inputTokens), String(counts.cachedInputTokens), String(counts.outputTokens));
    args.push(String(USAGE_RETENTION_MS.day), String(USAGE_RETENTION_MS.month));
    const startedAt = performance.now();
    const released = (await this.#settleScript(keys.length, ...keys, ...args)) as number;
    this.#observer?.storeLatency('settle', (performance.now() - startedAt) / 1000);
    return released;
  }

  /** The client belongs to whoever created it; nothing to release here. */
  async close(): Promise<void> {}

  #hashTag(request: Pick<AdmitRequest, 'keyId' | 'tenant'>): string {
    if (this.#grouping === 'global') return 'rl';
    return this.#grouping === 'tenant' ? `rl:t:${request.tenant}` : `rl:k:${request.keyId}`;
  }

  #scopeKey(tag: string, scope: LimitScope): string {
    return `${this.#prefix}{${tag}}:${scope.kind}:${scope.name}`;
  }

  #budgetKey(tag: string, keyId: string): string {
    return `${this.#prefix}{${tag}}:budget:${keyId}`;
  }
}

/** What a settlement changes: tokens to reconcile (used − reserved) and whether the budget is charged. */
interface Settlement {
  readonly extraTokens: number;
  readonly charge: boolean;
}

function settlementOf(ticket: RateLimitTicket, usage: SettleUsage): Settlement {
  return { extraTokens: usage.tokens - ticket.reservedTokens, charge: ticket.budgeted && usage.costNanos !== 0n };
}

const USAGE_SCAN_COUNT = 1000;

/**
 * Every key's usage counters of one period, as the settle script writes them: found by SCAN (the
 * hashes of one period share a name suffix; the tags differ per key or tenant), read by one
 * HGETALL pipeline per batch. For the admin API and the CLI, never on a request's path.
 */
export async function readRedisUsage(client: Redis, keyPrefix: string, period: UsagePeriod): Promise<KeyUsage[]> {
  const pattern = `${escapeGlob(keyPrefix)}{*}:usage:*:${period.kind === 'day' ? 'd' : 'm'}${period.index}`;
  const usage: KeyUsage[] = [];
  // SCAN may return a name more than once.
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', USAGE_SCAN_COUNT);
    cursor = next;
    const names = found.filter((name) => !seen.has(name));
    for (const name of names) seen.add(name);
    if (names.length === 0) continue;
    const pipeline = client.pipeline();
    for (const name of names) pipeline.hgetall(name);
    for (const [error, fields] of (await pipeline.exec()) ?? []) {
      if (error !== null) throw error;
      const hash = fields as Record<string, string>;
      // A hash that expired between SCAN and HGETALL reads as empty.
      if (hash.k === undefined) continue;
      usage.push({
        keyId: hash.k,
        tenant: hash.t ?? '',
        requests: Number(hash.r ?? 0),
        inputTokens: Number(hash.i ?? 0),
        cachedInputTokens: Number(hash.c ?? 0),
        outputTokens: Number(hash.o ?? 0),
        costNanos: BigInt(hash.n ?? '0'),
      });
    }
  } while (cursor !== '0');
  return usage;
}

/** A key prefix as a literal in a SCAN pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\\\]]/g, '\\$&');
}

/** Whether the ticket holds a concurrency lease in some scope (its settlement must reach Redis to free it). */
export function holdsLease(ticket: RateLimitTicket): boolean {
  return ticket.scopes.some((scope) => scope.maxConcurrent !== undefined);
}

/** Capacity and refill per ms as Lua reads them; "0" "0" when the limit is absent. */
function specArgs(spec: BucketSpec | undefined): [string, string] {
  return spec === undefined ? ['0', '0'] : [String(spec.capacity), String(spec.refillPerMs)];
}

/** A budget cap as Lua reads it; "0" when there is none. */
function nanosArg(nanos: bigint | undefined): string {
  return nanos === undefined ? '0' : nanos.toString();
}

function replyFigures(spec: BucketSpec | undefined, remaining: number, resetMs: number): BucketFigures | undefined {
  return spec === undefined || remaining < 0 ? undefined : figures(spec.capacity, remaining, resetMs);
}
