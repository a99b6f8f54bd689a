import { z } from 'zod';
import { keyLimitsSchema } from '../auth/policy.js';

const scopeName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1-64 letters, digits, ".", "_" or "-"');

/**
 * The `rateLimits` section. Each key's own limits and budget live in its policy
 * (src/auth/policy.ts); this section says where the buckets are kept, what happens when that
 * store fails, and which shared limits apply on top of every key's.
 */
export const rateLimitConfigSchema = z
  .object({
    /**
     * Where buckets, concurrency leases and budget counters live. memory: this process only (one
     * instance). redis: shared by every instance using the `redis` section, so limits hold across them.
     */
    store: z.enum(['memory', 'redis']).default('memory'),
    /**
     * When the Redis store fails. open: decide with this instance's own in-memory buckets and keep
     * serving (limits then hold per instance). closed: refuse with 503 until Redis answers again.
     */
    onStoreError: z.enum(['open', 'closed']).default('open'),
    /** Completion tokens reserved for a request that does not set max_tokens (plus its prompt estimate). */
    defaultMaxTokens: z.number().int().nonnegative().default(1_024),
    /**
     * How long a concurrency slot is held at most. A request that ends releases its slot at once;
     * this bounds how long a crashed instance's slots stay taken. Set it above the longest stream.
     */
    concurrencyLeaseMs: z.number().int().positive().default(600_000),
    /** Retry-After hint when the concurrency limit refused (when a slot frees up is unknowable). */
    concurrencyRetryAfterMs: z.number().int().positive().default(1_000),
    /** Retry-After hint of the 503 answered while the store is down and the policy is closed. */
    unavailableRetryAfterMs: z.number().int().positive().default(1_000),
    /**
     * The budgets' figures (GET /api/v1/budgets, the tollbooth_budget_* gauges, the built-in budget
     * alerts) come from a periodic read of every budgeted key's counters in the store (with Redis:
     * the shared ones), not from each request.
     */
    budgetReport: z
      .object({
        /** How often the counters are read (one store round trip for all keys). */
        refreshIntervalMs: z.number().int().min(100).default(30_000),
        /** The spend rate of the forecasts is the linear rate over this trailing window. */
        rateWindowMs: z.number().int().min(1_000).default(3_600_000),
      })
      .strict()
      .prefault({}),
    /** Limits shared by all keys of a tenant, checked together with each key's own. */
    tenants: z.record(scopeName, keyLimitsSchema).default({}),
    /** Limits shared by all keys calling a model (the name the client sends), checked with each key's own. */
    models: z.record(z.string().min(1).max(256), keyLimitsSchema).default({}),
  })
  .strict();

export type RateLimitConfig = z.infer<typeof rateLimitConfigSchema>;
export type RateLimitConfigInput = z.input<typeof rateLimitConfigSchema>;
