import { z } from 'zod';

/**
 * What one API key may do. Written once here and shared by every key store (config file, keys
 * file, environment, Redis) and by the rate limiter, so a policy means the same thing wherever
 * it was stored. Rates are per minute because that is how operators and OpenAI state them;
 * the buckets convert them to per-millisecond refill rates.
 */
export const keyLimitsSchema = z
  .object({
    /** Request bucket refill rate. Absent: requests are not limited. */
    requestsPerMinute: z.number().positive().optional(),
    /** Request bucket capacity; defaults to requestsPerMinute (one minute's worth). */
    burstRequests: z.number().int().positive().optional(),
    /** Token bucket refill rate (prompt + completion tokens). Absent: tokens are not limited. */
    tokensPerMinute: z.number().positive().optional(),
    /** Token bucket capacity; defaults to tokensPerMinute. */
    burstTokens: z.number().int().positive().optional(),
    /** Requests of this key in flight at once, across every gateway instance sharing the store. */
    maxConcurrent: z.number().int().positive().optional(),
  })
  .strict();

/** Budgets become exact nano-units (cost.ts unitsToNanos), which stops below 1e12 currency units. */
const budgetAmount = z.number().positive().lt(1e12, 'a budget must be below 1e12 currency units');

/** A spend cap in the cost currency (config.cost.currency), per UTC day and/or calendar month. */
export const keyBudgetSchema = z
  .object({
    daily: budgetAmount.optional(),
    monthly: budgetAmount.optional(),
  })
  .strict();

/**
 * Priority classes, most important first: the order in which traffic keeps its service under
 * overload (src/overload/). Defined with the key's policy that names one, so auth depends on
 * nothing of the overload stage that runs after it.
 */
export const PRIORITY_CLASSES = ['critical', 'standard', 'batch'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];
export const prioritySchema = z.enum(PRIORITY_CLASSES);

export const keyPolicySchema = z
  .object({
    /** Stable, non-secret name of the key: what logs, metrics (never) and traces show. */
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1-64 letters, digits, ".", "_" or "-"'),
    tenant: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1-64 letters, digits, ".", "_" or "-"').default('default'),
    /** Models the key may call; ["*"] allows every model. */
    models: z.array(z.string().min(1)).min(1).default(['*']),
    limits: keyLimitsSchema.prefault({}),
    budget: keyBudgetSchema.optional(),
    /** Overload class (src/overload/): critical is shed last, batch first. Absent: the tenant's (overload.tenantPriorities), else standard. */
    priority: prioritySchema.optional(),
  })
  .strict();

/** A stored key: its policy plus the SHA-256 of the secret (never the secret itself). */
export const storedKeySchema = keyPolicySchema.extend({
  /** Lower-case hex SHA-256 of the full key, optionally written "sha256:<hex>". */
  hash: z
    .string()
    .regex(/^(sha256:)?[0-9a-f]{64}$/, 'must be the hex SHA-256 of the key ("sha256:<64 hex>")')
    .transform((value) => value.replace(/^sha256:/, '')),
});

export type KeyLimits = z.infer<typeof keyLimitsSchema>;
export type KeyBudget = z.infer<typeof keyBudgetSchema>;
export type KeyPolicy = z.infer<typeof keyPolicySchema>;
export type StoredKey = z.infer<typeof storedKeySchema>;
export type StoredKeyInput = z.input<typeof storedKeySchema>;
