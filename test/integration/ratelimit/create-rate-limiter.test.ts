import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { createRateLimiter } from '../../../src/ratelimit/create.js';
import { redisConfigSchema } from '../../../src/redis/config.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

const log = { warn: () => {}, info: () => {} };
const internalErrors = new InternalErrors(pino({ level: 'silent' }));
const request = { requestId: 'r', keyId: 'k', tenant: 'default', model: 'm', limits: { requestsPerMinute: 60 }, budget: undefined, reservedTokens: 0 };

describe('createRateLimiter from configuration', () => {
  it('builds the memory store by default', async () => {
    const limiter = createRateLimiter({ rateLimits: rateLimitConfigSchema.parse({}), log, internalErrors });
    await limiter.ready();
    expect((await limiter.admit(request)).store).toBe('memory');
  });

  it('builds the Redis store with its failure policy, and close() ends its connection', async () => {
    const latencies: string[] = [];
    const logged: string[] = [];
    const limiter = createRateLimiter({
      rateLimits: rateLimitConfigSchema.parse({ store: 'redis' }),
      redis: redisConfigSchema.parse({ url: server.url }),
      log: { warn: (_details, message) => logged.push(message), info: (_details, message) => logged.push(message) },
      observer: { storeLatency: (operation) => latencies.push(operation), storeError: () => {}, storeState: () => {} },
      internalErrors,
    });
    await limiter.ready();
    const decision = await limiter.admit(request);
    expect(logged).toEqual([]); // nothing decided by the failure policy while connecting
    expect(decision).toMatchObject({ allowed: true, store: 'redis' });
    expect(latencies).toEqual(['admit']);
    await limiter.close();
  });

  it('refuses a redis store without redis configuration', () => {
    expect(() => createRateLimiter({ rateLimits: rateLimitConfigSchema.parse({ store: 'redis' }), log, internalErrors })).toThrow(/no redis configuration/);
  });
});
