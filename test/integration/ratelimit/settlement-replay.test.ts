import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { FailoverRateLimiter } from '../../../src/ratelimit/failover.js';
import type { AdmitRequest } from '../../../src/ratelimit/limiter.js';
import { MemoryRateLimiter } from '../../../src/ratelimit/memory-store.js';
import { RedisRateLimiter } from '../../../src/ratelimit/redis-store.js';
import { redisReady } from '../../../src/redis/client.js';
import { useRedisServer } from '../../helpers/redis-server.js';

/**
 * A settle call that fails while Redis keeps its data (a dropped connection, a command timeout)
 * must not leave the concurrency slot taken until concurrencyLeaseMs: the failed settlement is
 * replayed once Redis answers, and a replay never applies a settlement twice.
 */

const redis = useRedisServer();
const LEASE_MS = 60_000;
// A bucket of 1 000 tokens that refills by 1 token per minute: a refund shows as it is.
const LIMITS = { maxConcurrent: 1, tokensPerMinute: 1, burstTokens: 1_000 };
const RESERVED = 500;
const USAGE = { tokens: 100, costNanos: 4_321n };

let sequence = 0;
function request(keyId: string): AdmitRequest {
  return { requestId: `r${sequence++}`, keyId, tenant: 'default', model: 'm', limits: LIMITS, budget: { daily: 1 }, reservedTokens: RESERVED };
}

async function setUp(prefix: string, settlementQueueCap?: number) {
  const client = redis.client({ reconnectMaxDelayMs: 100, commandTimeoutMs: 300 });
  const admin = redis.client();
  await Promise.all([redisReady(client), redisReady(admin)]);
  const config = rateLimitConfigSchema.parse({ concurrencyLeaseMs: LEASE_MS });
  const logs: string[] = [];
  const primary = new RedisRateLimiter({ client, config, keyPrefix: prefix });
  const limiter = new FailoverRateLimiter({
    primary,
    fallback: new MemoryRateLimiter({ config, store: 'local' }),
    onStoreError: 'open',
    unavailableRetryAfterMs: config.unavailableRetryAfterMs,
    concurrencyLeaseMs: config.concurrencyLeaseMs,
    settlementQueueCap,
    log: { warn: (_details, message) => logs.push(`warn: ${message}`), info: (_details, message) => logs.push(`info: ${message}`) },
    internalErrors: new InternalErrors(pino({ level: 'silent' })),
  });
  /** What Redis holds for a key: leases, tokens left, nanos spent today. */
  const stored = async (keyId: string) => {
    const base = `${prefix}{rl:k:${keyId}}`;
    const [leases, tokens, spent] = await Promise.all([
      admin.zcard(`${base}:key:${keyId}:cc`),
      admin.hget(`${base}:key:${keyId}:tk`, 't'),
      admin.hget(`${base}:budget:${keyId}`, 'ds'),
    ]);
    return { leases, tokens: Number(tokens), spent };
  };
  return { client, admin, primary, limiter, logs, stored };
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wake) => setTimeout(wake, 10));
  }
}

/** The token count after the refund, give or take the refill of a few seconds (1 token per minute). */
const REFUNDED = 1_000 - USAGE.tokens;

describe('settlements replayed after a failed settle', () => {
  it('a replay applies a settlement that never reached Redis exactly once, and one that did not again', async () => {
    const { primary, stored } = await setUp('idem:');
    const first = await primary.admit(request('idem'));
    expect(await primary.replaySettle(first.ticket!, USAGE)).toBe(true);
    expect(await primary.replaySettle(first.ticket!, USAGE)).toBe(false);
    expect(await stored('idem')).toMatchObject({ leases: 0, spent: '4321' });
    expect((await stored('idem')).tokens).toBeLessThan(REFUNDED + 1);

    const second = await primary.admit(request('idem'));
    await primary.settle(second.ticket!, USAGE);
    const settled = await stored('idem');
    expect(await primary.replaySettle(second.ticket!, USAGE)).toBe(false);
    const replayed = await stored('idem');
    expect(replayed).toMatchObject({ leases: 0, spent: '8642' });
    expect(replayed.tokens).toBeLessThan(settled.tokens + 0.1);
  });

  it('frees the slot when the connection comes back, without waiting for the lease, and reconciles once', async () => {
    const { client, admin, limiter, stored } = await setUp('blip:');
    const held = await limiter.admit(request('blip'));
    expect(held).toMatchObject({ allowed: true, store: 'redis' });
    expect((await limiter.admit(request('blip'))).limitedBy).toBe('concurrency');

    // The connection drops and Redis stays frozen for a moment: the reconnecting client cannot
    // become ready, so the settle is not attempted. Redis keeps every key meanwhile.
    const id = (await client.client('ID')) as number;
    await admin.pipeline().client('KILL', 'ID', String(id)).client('PAUSE', '600', 'ALL').exec();
    await until(() => client.status !== 'ready', 'the limiter to see its connection drop');
    await limiter.settle(held.ticket!, USAGE);
    expect(limiter.settlements.pending).toBe(1);

    await until(() => limiter.settlements.pending === 0, 'the replay after reconnecting', 4_000);
    const after = await stored('blip');
    expect(after).toMatchObject({ leases: 0, spent: '4321' });
    expect(after.tokens).toBeGreaterThanOrEqual(REFUNDED);
    expect(after.tokens).toBeLessThan(REFUNDED + 1);
    expect(await limiter.admit(request('blip'))).toMatchObject({ allowed: true, store: 'redis' });
  });

  it('a settle that timed out but ran late is not applied twice by its replay', async () => {
    const { admin, limiter, stored } = await setUp('late:');
    const held = await limiter.admit(request('late'));
    await admin.client('PAUSE', '600', 'ALL');
    // The script waits in Redis' input buffer: the client gives up after 300 ms, Redis runs it at 600.
    await limiter.settle(held.ticket!, USAGE);
    expect(limiter.settlements.pending).toBe(1);
    expect(limiter.degraded).toBe(true);

    await until(() => limiter.settlements.pending === 0, 'the replay on its retry timer', 4_000);
    const after = await stored('late');
    expect(after).toMatchObject({ leases: 0, spent: '4321' });
    expect(after.tokens).toBeGreaterThanOrEqual(REFUNDED);
    expect(after.tokens).toBeLessThan(REFUNDED + 1);
    expect((await limiter.admit(request('late'))).allowed).toBe(true);
  });

  it('a settle that timed out and died with its connection is applied once, by its replay', async () => {
    const { client, admin, limiter, stored } = await setUp('resent:');
    const held = await limiter.admit(request('resent'));
    const id = (await client.client('ID')) as number;
    // Scripts wait while reads and CLIENT KILL still run: the settle times out, and its connection is
    // killed before Redis runs it. The request-path client does not resend unanswered commands
    // (src/redis/client.ts), so only the replay can settle it, and must do so exactly once.
    await admin.client('PAUSE', '800', 'WRITE');
    await limiter.settle(held.ticket!, USAGE);
    expect(limiter.settlements.pending).toBe(1);
    await admin.client('KILL', 'ID', String(id));

    await until(() => limiter.settlements.pending === 0, 'the replay after reconnecting', 4_000);
    const after = await stored('resent');
    expect(after).toMatchObject({ leases: 0, spent: '4321' });
    expect(after.tokens).toBeLessThan(REFUNDED + 1);
  });

  it('keeps at most the queue cap while Redis is down, drops the oldest and logs that once', async () => {
    const { client, limiter, logs } = await setUp('cap:', 2);
    const tickets = [];
    for (let index = 0; index < 4; index += 1) {
      const decision = await limiter.admit(request(`cap-${index}`));
      tickets.push(decision.ticket!);
    }
    await redis.server().kill();
    try {
      await until(() => client.status !== 'ready', 'the limiter to see Redis gone');
      for (const ticket of tickets) await limiter.settle(ticket, USAGE);
      expect(limiter.settlements).toEqual({ pending: 2, dropped: 2 });
    } finally {
      await redis.server().restart();
    }
    await until(() => limiter.settlements.pending === 0, 'the replay after the restart', 4_000);
    expect(logs.filter((line) => /queue/.test(line))).toHaveLength(1);
    expect(logs.at(-1)).toMatch(/^info: .*dropped/);
  });
});
