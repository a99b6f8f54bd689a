import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import type { AdmitRequest, RateLimiter } from '../../../src/ratelimit/limiter.js';
import { RedisRateLimiter } from '../../../src/ratelimit/redis-store.js';
import { redisReady } from '../../../src/redis/client.js';
import { useRedisServer } from '../../helpers/redis-server.js';
import { seededRandom } from '../../helpers/seeded-random.js';

/**
 * Three independent limiters (three connections, as three gateway instances would have) hammer
 * one Redis with far more demand than the limits allow. Whatever the interleaving, the admitted
 * total must equal what the buckets allow over the window measured on Redis's own clock:
 * capacity + rate × elapsed, within 2%.
 */

const redis = useRedisServer();

async function serverTimeMs(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

const INSTANCES = 3;
const CONCURRENCY_PER_INSTANCE = 16;
const RUN_MS = 2_500;

describe('three instances sharing one Redis', () => {
  it('admit within ±2% of capacity + rate × elapsed, for requests and for tokens', async () => {
    const config = rateLimitConfigSchema.parse({});
    const limiters: RateLimiter[] = [];
    const clients: Redis[] = [];
    for (let i = 0; i < INSTANCES; i++) {
      const client = redis.client({ commandTimeoutMs: 2_000 }, { connectionName: `instance-${i}` });
      clients.push(client);
      await redisReady(client);
      limiters.push(new RedisRateLimiter({ client, config, keyPrefix: 'acc:' }));
    }
    const requestLimits = { requestsPerMinute: 30_000, burstRequests: 100 }; // 500 per second
    const tokenLimits = { tokensPerMinute: 600_000, burstTokens: 2_000 }; // 10,000 tokens per second
    const random = seededRandom(7);
    const base = { tenant: 'default', model: 'm', budget: undefined } as const;

    let requestsAdmitted = 0;
    let tokensAdmitted = 0;
    let attempts = 0;
    let sequence = 0;
    const observer = clients[0]!;
    const startedAt = await serverTimeMs(observer);
    const deadline = performance.now() + RUN_MS;
    const worker = async (limiter: RateLimiter, tokens: boolean): Promise<void> => {
      while (performance.now() < deadline) {
        const request: AdmitRequest = tokens
          ? { ...base, requestId: `t${sequence++}`, keyId: 'tokens-key', limits: tokenLimits, reservedTokens: 1 + Math.floor(random() * 40) }
          : { ...base, requestId: `q${sequence++}`, keyId: 'requests-key', limits: requestLimits, reservedTokens: 0 };
        attempts++;
        const decision = await limiter.admit(request);
        if (!decision.allowed) continue;
        if (tokens) tokensAdmitted += request.reservedTokens;
        else requestsAdmitted++;
      }
    };
    const workers: Promise<void>[] = [];
    for (const limiter of limiters) {
      for (let i = 0; i < CONCURRENCY_PER_INSTANCE; i++) workers.push(worker(limiter, i % 2 === 1));
    }
    await Promise.all(workers);
    const endedAt = await serverTimeMs(observer);
    const elapsedMs = endedAt - startedAt;

    const expectedRequests = requestLimits.burstRequests + (requestLimits.requestsPerMinute / 60_000) * elapsedMs;
    const expectedTokens = tokenLimits.burstTokens + (tokenLimits.tokensPerMinute / 60_000) * elapsedMs;
    const summary = { elapsedMs: Math.round(elapsedMs), attempts, requestsAdmitted, expectedRequests: Math.round(expectedRequests), tokensAdmitted, expectedTokens: Math.round(expectedTokens) };
    if (process.env.RATELIMIT_ACCURACY_VERBOSE) console.log(summary);
    // Demand must exceed the limits by far, or the test would measure the load generator.
    expect(attempts, JSON.stringify(summary)).toBeGreaterThan(3 * (expectedRequests + expectedTokens / 20));
    expect(Math.abs(requestsAdmitted - expectedRequests) / expectedRequests, JSON.stringify(summary)).toBeLessThanOrEqual(0.02);
    // Tokens: the last refused reservation may leave up to one request's worth unused (≤ 40 tokens).
    expect(Math.abs(tokensAdmitted - expectedTokens) / expectedTokens, JSON.stringify(summary)).toBeLessThanOrEqual(0.02);
    // Never above what the buckets allow: the upper bound is exact.
    expect(requestsAdmitted).toBeLessThanOrEqual(Math.floor(expectedRequests));
    expect(tokensAdmitted).toBeLessThanOrEqual(Math.floor(expectedTokens));
  });
});
