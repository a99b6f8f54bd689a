import type { Redis } from 'ioredis';
import { closeRedisClient, createRedisClient } from '../redis/client.js';
import type { RedisConfig } from '../redis/config.js';
import type { AuthConfig } from './config.js';
import { generateApiKey, hashApiKey } from './key-format.js';
import { describeIssues } from './key-list.js';
import { addToKeysFile, readKeysFile, removeFromKeysFile, replaceInKeysFile } from './keys-file.js';
import { keyPolicySchema, storedKeySchema, type KeyPolicy, type StoredKey } from './policy.js';
import { RedisKeyStore } from './redis-key-store.js';

/**
 * Managing keys, whoever asks: `tollbooth keys` on the command line and the admin API on the
 * admin listener run these same operations over the same two stores, with the same validation,
 * so a key created either way is the same key and fails the same checks.
 */
export interface KeyStoreAdmin {
  /** Where the keys live, for messages: a file path or the Redis hash. */
  readonly where: string;
  list(): Promise<StoredKey[]>;
  /** Throws `KeyExistsError` when the id or the key is taken. */
  create(key: StoredKey): Promise<void>;
  /** Replaces the policy of the key with this id (its secret stays); false when there is none. */
  replace(key: StoredKey): Promise<boolean>;
  /** Removes the key with this id; false when there is none. */
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A policy as it is shown: never the hash of the key, let alone the key. */
export type KeyView = KeyPolicy;

export function viewOf(key: StoredKey): KeyView {
  const { hash: _hash, ...policy } = key;
  return policy;
}

/** Problems with a proposed policy, each `path: message`, all of them at once. */
export class KeyPolicyError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'KeyPolicyError';
  }
}

/** A new secret and the stored form of its policy (validated; `KeyPolicyError` otherwise). The secret is shown once and never stored. */
export function issueKey(policy: unknown): { secret: string; stored: StoredKey } {
  const secret = generateApiKey();
  const candidate = typeof policy === 'object' && policy !== null && !Array.isArray(policy) ? { ...policy, hash: hashApiKey(secret) } : policy;
  const parsed = storedKeySchema.safeParse(candidate);
  if (!parsed.success) throw new KeyPolicyError(describeIssues(parsed.error.issues));
  return { secret, stored: parsed.data };
}

/**
 * The key after a JSON Merge Patch (RFC 7396) of its policy: members replace, `null` removes,
 * objects merge (`{"limits": {"requestsPerMinute": 120}}` keeps the other limits). The result is
 * validated whole; the id cannot change, and the secret is not part of the policy.
 */
export function patchedKey(current: StoredKey, patch: unknown): StoredKey {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new KeyPolicyError(['(body): a merge patch is a JSON object']);
  const id = (patch as { id?: unknown }).id;
  if (id !== undefined && id !== current.id) throw new KeyPolicyError(['id: the id of a key cannot change (create a new key and revoke this one)']);
  const parsed = keyPolicySchema.safeParse(mergePatch(viewOf(current), patch));
  if (!parsed.success) throw new KeyPolicyError(describeIssues(parsed.error.issues));
  return { ...parsed.data, hash: current.hash };
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete result[name];
    else result[name] = mergePatch(result[name], value);
  }
  return result;
}

/** A keys file (`auth.keysFile`): the gateways watching it pick every change up within a second. */
export function keysFileAdmin(file: string): KeyStoreAdmin {
  return {
    where: file,
    list: async () => readKeysFile(file, { missingIsEmpty: true }),
    create: async (key) => addToKeysFile(file, key),
    replace: async (key) => replaceInKeysFile(file, key),
    revoke: async (id) => removeFromKeysFile(file, id),
    close: async () => {},
  };
}

/**
 * The Redis key store (`auth.store: redis`): every change is announced on its channel, so every
 * gateway sharing the store applies it within milliseconds. `close` quits the connection only
 * when this admin owns it.
 */
export function redisKeyAdmin(redis: Redis, keyPrefix: string, options: { onInvalidEntry?: (problem: string) => void; close?: () => Promise<void> } = {}): KeyStoreAdmin {
  const store = new RedisKeyStore(redis, keyPrefix);
  return {
    where: `Redis ${store.names.keysHash}`,
    list: async () => {
      const { keys, problems } = await store.load();
      for (const problem of problems) options.onInvalidEntry?.(problem);
      return keys;
    },
    create: (key) => store.create(key),
    replace: (key) => store.replace(key),
    revoke: async (id) => (await store.revoke(id)) > 0,
    close: options.close ?? (async () => {}),
  };
}

/**
 * The store a gateway's admin API changes: the same one `tollbooth keys --config` picks (Redis
 * when `auth.store` is redis, else the keys file), or none when the keys live only in the
 * configuration (a file the gateway does not write).
 */
export function gatewayKeyStoreAdmin(auth: AuthConfig, redis: RedisConfig): KeyStoreAdmin | undefined {
  if (auth.store === 'redis') {
    // Offline queue on: an admin call made while the connection is (re)established waits for it
    // (bounded by redis.commandTimeoutMs) instead of failing at once as a request-path command must.
    const client = createRedisClient(redis, { connectionName: 'tollbooth-key-admin', offlineQueue: true });
    return redisKeyAdmin(client, redis.keyPrefix, { close: () => closeRedisClient(client) });
  }
  return auth.keysFile === undefined ? undefined : keysFileAdmin(auth.keysFile);
}
