import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from '../../../src/redis/client.js';
import { redisConfigSchema } from '../../../src/redis/config.js';

describe('redis configuration', () => {
  it('defaults to a local Redis with short timeouts for the request path', () => {
    expect(redisConfigSchema.parse({})).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'tollbooth:',
      connectTimeoutMs: 1000,
      commandTimeoutMs: 500,
      maxRetriesPerRequest: 1,
      reconnectMaxDelayMs: 2000,
    });
  });

  it('accepts redis:// and rediss:// URLs only', () => {
    expect(redisConfigSchema.safeParse({ url: 'rediss://user:secret@cache.internal:6380/2' }).success).toBe(true);
    expect(redisConfigSchema.safeParse({ url: 'http://cache:6379' }).success).toBe(false);
    expect(redisConfigSchema.safeParse({ url: 'not a url' }).success).toBe(false);
  });

  it('backs off reconnection attempts exponentially up to the ceiling, forever', () => {
    expect([1, 2, 3, 4, 5, 6, 100, 10_000].map((attempt) => reconnectDelayMs(attempt, 2000))).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000]);
  });
});
