import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { apiKeyDigest, generateApiKey } from './key-format.js';
import type { KeyPolicy, StoredKey } from './policy.js';
import { VerifiedKeyCache } from './verified-key-cache.js';

/** Who is calling: what the gateway, the rate limiter, logs and traces may know about a request's key. */
export interface Principal {
  readonly keyId: string;
  readonly tenant: string;
  readonly policy: Readonly<KeyPolicy>;
}

export interface KeyRingOptions {
  /** SHA-256 of a presented key; injectable so tests can count the work done per verification. */
  readonly digest?: (key: string) => Buffer;
  /** Constant-time comparison of two equal-length digests. */
  readonly compare?: (presented: Buffer, stored: Buffer) => boolean;
  readonly log?: Logger;
}

interface RingEntry {
  readonly digest: Buffer;
  readonly principal: Principal;
}

/** How many verified keys the ring remembers by their raw value (verified-key-cache.ts). */
const VERIFIED_KEYS_REMEMBERED = 1024;

/** Names of the key sources feeding a ring, in precedence order when two sources hold the same key. */
export type KeySourceName = 'config' | 'file' | 'redis' | (string & {});

/**
 * The in-memory snapshot every request is verified against: synchronous, no I/O per request.
 * Sources (config, keys file, Redis) replace their own share of the keys; the ring merges them
 * into a new immutable map, so a reload never leaves a request looking at a half-built set.
 *
 * Constant time: `verify` does the same work whether the key is right, wrong or missing. A missing
 * key is replaced by a dummy key of the issued length, so it is hashed like any other; every
 * verification then makes one map lookup by the hex digest and one `timingSafeEqual` against either
 * the stored digest or a fallback digest. The lookup's timing can depend only on the SHA-256 of the
 * presented key, which an attacker cannot steer towards a stored hash, so it leaks nothing useful.
 * A key that verified is remembered by its raw value (a bounded cache, cleared on every change of
 * the keys), so its next requests skip the digest; unknown keys are never in it.
 */
export class KeyRing {
  private readonly digestOf: (key: string) => Buffer;
  private readonly compare: (presented: Buffer, stored: Buffer) => boolean;
  private readonly log: Logger | undefined;
  private readonly dummyKey = generateApiKey();
  /** What a lookup miss compares against: a digest nobody can present. */
  private readonly fallbackDigest: Buffer;
  private readonly sources = new Map<KeySourceName, readonly StoredKey[]>();
  private entries = new Map<string, RingEntry>();
  private principalList: readonly Principal[] = [];
  private readonly verified = new VerifiedKeyCache<Principal>(VERIFIED_KEYS_REMEMBERED);

  constructor(options: KeyRingOptions = {}) {
    this.digestOf = options.digest ?? apiKeyDigest;
    this.compare = options.compare ?? timingSafeEqual;
    this.log = options.log;
    this.fallbackDigest = apiKeyDigest(generateApiKey());
  }

  /** The principal of a presented key, or undefined for a missing, unknown or revoked key. */
  verify(presented: string | undefined): Principal | undefined {
    // A missing key is looked up too (as the dummy, never remembered): wrong and missing keys do the same work.
    const candidate = presented ?? this.dummyKey;
    const remembered = this.verified.get(candidate);
    if (remembered !== undefined) return remembered;
    const digest = this.digestOf(candidate);
    const entry = this.entries.get(digest.toString('hex'));
    const matches = this.compare(digest, entry === undefined ? this.fallbackDigest : entry.digest);
    if (!matches || presented === undefined || entry === undefined) return undefined;
    this.verified.remember(presented, entry.principal);
    return entry.principal;
  }

  /** Replaces every key that came from `source`; the other sources' keys stay. */
  replaceSource(source: KeySourceName, keys: readonly StoredKey[]): void {
    this.sources.set(source, keys);
    this.rebuild();
  }

  /** Number of distinct keys the ring accepts. */
  get size(): number {
    return this.entries.size;
  }

  /** Every accepted key's principal (for figures over all keys, such as budgets; never per request). */
  principals(): readonly Principal[] {
    return this.principalList;
  }

  /** How many keys each source contributes (for logs). */
  describe(): { source: KeySourceName; keys: number }[] {
    return [...this.sources].map(([source, keys]) => ({ source, keys: keys.length }));
  }

  private rebuild(): void {
    const entries = new Map<string, RingEntry>();
    for (const [source, keys] of this.sources) {
      for (const key of keys) {
        const existing = entries.get(key.hash);
        if (existing !== undefined) {
          this.log?.warn(
            { source, key_id: key.id, kept_key_id: existing.principal.keyId },
            'the same key is stored twice: the first definition wins',
          );
          continue;
        }
        entries.set(key.hash, { digest: Buffer.from(key.hash, 'hex'), principal: principalOf(key) });
      }
    }
    this.entries = entries;
    // A key revoked or changed by this reload must not be answered from memory.
    this.verified.clear();
    this.principalList = Object.freeze([...entries.values()].map((entry) => entry.principal));
  }
}

function principalOf(key: StoredKey): Principal {
  const { hash: _hash, ...policy } = key;
  return Object.freeze({ keyId: key.id, tenant: key.tenant, policy: deepFreeze(policy) });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
