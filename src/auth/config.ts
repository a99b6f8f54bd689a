import { z } from 'zod';
import { duplicateProblems } from './key-list.js';
import { storedKeySchema } from './policy.js';

const tenantName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1-64 letters, digits, ".", "_" or "-"');

/**
 * The `auth` section. Keys come from every configured source at once: `keys` (inline, or
 * TOLLBOOTH_AUTH_KEYS as JSON), `keysFile` (a YAML list, reloaded on change) and, with
 * `store: redis`, the Redis key store (connection settings in the top-level `redis` section).
 */
export const authConfigSchema = z
  .object({
    /** Off, every request is admitted without a key: for local demos only (the gateway warns loudly). */
    enabled: z.boolean().default(true),
    /** Keys stored by hash in the config itself. */
    keys: z.array(storedKeySchema).default([]),
    /** A YAML list of keys in the same shape as `keys`; edits take effect without a restart. */
    keysFile: z.string().min(1).optional(),
    /** Where `tollbooth keys create|revoke` keeps keys: the keys file (config) or Redis, shared by every instance. */
    store: z.enum(['config', 'redis']).default('config'),
    /** With the Redis store: full reload of the key set, a safety net behind pub/sub invalidation. */
    resyncIntervalMs: z.number().int().min(1_000).default(30_000),
    /**
     * Tenant names that may appear as metric label values. Any other tenant is counted under
     * one shared value, so label cardinality stays bounded whatever keys are created.
     */
    tenants: z.array(tenantName).default([]),
  })
  .strict()
  .superRefine((auth, context) => {
    for (const problem of duplicateProblems(auth.keys)) context.addIssue({ code: 'custom', path: ['keys'], message: problem });
  })
  .prefault({});

export type AuthConfig = z.infer<typeof authConfigSchema>;
export type AuthConfigInput = z.input<typeof authConfigSchema>;
