import type { Redis } from 'ioredis';
import { describeIssues, KeyExistsError } from './key-list.js';
import { keyPolicySchema, type KeyPolicy, type StoredKey } from './policy.js';

/**
 * The Redis key store: one hash whose fields are the keys' hex SHA-256 and whose values are
 * their policies as JSON, plus a pub/sub channel announcing every change. Gateways keep the whole
 * set in memory and reload it when the channel speaks; the store is only read on changes.
 */
export interface RedisKeyStoreNames {
  readonly keysHash: string;
  readonly changesChannel: string;
}

export function redisKeyStoreNames(keyPrefix: string): RedisKeyStoreNames {
  return { keysHash: `${keyPrefix}auth:keys`, changesChannel: `${keyPrefix}auth:keys:changed` };
}

/** Adds a key unless its id or hash is taken, and announces it, in one atomic step. */
const CREATE_SCRIPT = `
for _, json in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, policy = pcall(cjson.decode, json)
  if ok and type(policy) == 'table' and policy.id == ARGV[3] then return 0 end
end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return -1 end
redis.call('PUBLISH', ARGV[4], 'created')
return 1
`;

/**
 * Replaces the policy stored for this id under the same hash (the secret stays) and announces it;
 * 0 when no entry has this id. Concurrent replacements of one key: the last one wins.
 */
const REPLACE_SCRIPT = `
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local ok, policy = pcall(cjson.decode, entries[i + 1])
  if ok and type(policy) == 'table' and policy.id == ARGV[1] then
    if entries[i] ~= ARGV[2] then return -1 end
    redis.call('HSET', KEYS[1], entries[i], ARGV[3])
    redis.call('PUBLISH', ARGV[4], 'updated')
    return 1
  end
end
return 0
`;

/** Removes every entry with this id and announces it; returns how many were removed. */
const REVOKE_SCRIPT = `
local entries = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #entries, 2 do
  local ok, policy = pcall(cjson.decode, entries[i + 1])
  if ok and type(policy) == 'table' and policy.id == ARGV[1] then
    redis.call('HDEL', KEYS[1], entries[i])
    removed = removed + 1
  end
end
if removed > 0 then redis.call('PUBLISH', ARGV[2], 'revoked') end
return removed
`;

export interface StoredKeySet {
  readonly keys: StoredKey[];
  /** Entries that do not match the policy schema; they are left out of `keys`. */
  readonly problems: string[];
}

export class RedisKeyStore {
  readonly names: RedisKeyStoreNames;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
  ) {
    this.names = redisKeyStoreNames(keyPrefix);
  }

  /** Every stored key. An entry that fails validation is reported and skipped, not fatal: one bad write must not lock everyone out. */
  async load(): Promise<StoredKeySet> {
    const entries = await this.redis.hgetall(this.names.keysHash);
    const keys: StoredKey[] = [];
    const problems: string[] = [];
    for (const [hash, json] of Object.entries(entries)) {
      const parsed = parseEntry(hash, json);
      if ('key' in parsed) keys.push(parsed.key);
      else problems.push(...parsed.problems.map((problem) => `${this.names.keysHash}[${hash.slice(0, 12)}…] ${problem}`));
    }
    keys.sort((a, b) => a.id.localeCompare(b.id));
    return { keys, problems };
  }

  async create(key: StoredKey): Promise<void> {
    const { hash, ...policy } = key;
    const outcome = await this.redis.eval(
      CREATE_SCRIPT,
      1,
      this.names.keysHash,
      hash,
      JSON.stringify(policy),
      key.id,
      this.names.changesChannel,
    );
    if (outcome === 0) throw new KeyExistsError('id', key.id);
    if (outcome === -1) throw new KeyExistsError('hash', key.id);
  }

  /** Replaces the policy of the key with `key.id`; false when the store has no such key. */
  async replace(key: StoredKey): Promise<boolean> {
    const { hash, ...policy } = key;
    const outcome = Number(await this.redis.eval(REPLACE_SCRIPT, 1, this.names.keysHash, key.id, hash, JSON.stringify(policy), this.names.changesChannel));
    if (outcome === -1) throw new Error(`the key "${key.id}" is stored under another secret than the one being replaced`);
    return outcome === 1;
  }

  /** Removes the key(s) with this id; returns how many were removed (0: no such key). */
  async revoke(id: string): Promise<number> {
    return Number(await this.redis.eval(REVOKE_SCRIPT, 1, this.names.keysHash, id, this.names.changesChannel));
  }
}

function parseEntry(hash: string, json: string): { key: StoredKey } | { problems: string[] } {
  if (!/^[0-9a-f]{64}$/.test(hash)) return { problems: ['field: not a lower-case hex SHA-256'] };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { problems: ['value: not valid JSON'] };
  }
  const parsed = keyPolicySchema.safeParse(value);
  if (!parsed.success) return { problems: describeIssues(parsed.error.issues) };
  const policy: KeyPolicy = parsed.data;
  return { key: { ...policy, hash } };
}
