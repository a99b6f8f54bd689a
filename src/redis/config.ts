import { z } from 'zod';

/**
 * How Tollbooth reaches Redis (rate limits and the key store share it). The timeouts are short on
 * purpose: Redis sits on the request path, and a dead or frozen Redis must turn into a fast
 * error the failure policy can act on, not a request that hangs.
 */
export const redisConfigSchema = z
  .object({
    /** redis:// or rediss:// URL; user, password and database number may be part of it. */
    url: z
      .string()
      .refine((value) => URL.canParse(value) && /^rediss?:$/.test(new URL(value).protocol), 'must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    /** Prepended to every key Tollbooth writes, so several deployments can share one Redis. */
    keyPrefix: z.string().max(64).default('tollbooth:'),
    /** Longest wait for a TCP connection (and TLS handshake) before the attempt counts as failed. */
    connectTimeoutMs: z.number().int().positive().default(1_000),
    /** Longest wait for one command's reply; a frozen Redis fails the command after this. */
    commandTimeoutMs: z.number().int().positive().default(500),
    /** Times a command in flight when the connection dropped is resent after reconnecting. */
    maxRetriesPerRequest: z.number().int().nonnegative().default(1),
    /** Reconnection backoff doubles from 50 ms up to this ceiling, and never gives up. */
    reconnectMaxDelayMs: z.number().int().positive().default(2_000),
  })
  .strict();

export type RedisConfig = z.infer<typeof redisConfigSchema>;
export type RedisConfigInput = z.input<typeof redisConfigSchema>;
