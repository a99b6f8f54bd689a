import { generateApiKey, hashApiKey } from '../auth/key-format.js';
import type { StoredKeyInput } from '../auth/policy.js';

/**
 * The demo's API key: generated at every `tollbooth demo`, printed once in the banner, and added
 * through the documented TOLLBOOTH_AUTH_KEYS variable, so the demo runs with auth on exactly like a
 * deployment. Its token limit is small on purpose: a few requests in, the user sees a 429 and the
 * x-ratelimit-* headers that explain it.
 */
export const DEMO_KEY_POLICY = {
  id: 'demo',
  tenant: 'demo',
  models: ['*'],
  limits: { requestsPerMinute: 10, tokensPerMinute: 2_000 },
} as const satisfies Omit<StoredKeyInput, 'hash'>;

/** The environment with a fresh demo key, unless the user brought keys of their own. */
export function withDemoKey(env: NodeJS.ProcessEnv): { readonly secret: string | undefined; readonly env: NodeJS.ProcessEnv } {
  if (env.TOLLBOOTH_AUTH_KEYS !== undefined) return { secret: undefined, env };
  const secret = generateApiKey();
  const keys: StoredKeyInput[] = [{ ...DEMO_KEY_POLICY, models: [...DEMO_KEY_POLICY.models], limits: { ...DEMO_KEY_POLICY.limits }, hash: hashApiKey(secret) }];
  return { secret, env: { ...env, TOLLBOOTH_AUTH_KEYS: JSON.stringify(keys) } };
}
