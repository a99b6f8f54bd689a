import { generateApiKey, hashApiKey } from '../../src/auth/key-format.js';
import type { StoredKeyInput } from '../../src/auth/policy.js';

/** A key issued for a test: the secret a client sends and the stored policy the gateway holds. */
export interface IssuedKey {
  readonly secret: string;
  readonly stored: StoredKeyInput;
}

export function issueKey(policy: Omit<StoredKeyInput, 'hash'>): IssuedKey {
  const secret = generateApiKey();
  return { secret, stored: { ...policy, hash: hashApiKey(secret) } };
}
