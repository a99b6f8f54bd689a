import { z } from 'zod';
import { storedKeySchema, type StoredKey } from './policy.js';

export interface KeyListResult {
  readonly keys: StoredKey[];
  /** Every problem found, each prefixed with the entry's position and id, e.g. `[2] (team-a) limits.requestsPerMinute: …`. */
  readonly problems: string[];
}

/**
 * Validates a list of stored keys with the shared schema and reports every problem at once:
 * each invalid entry, and ids or hashes that appear twice (an id names one key in logs, metrics
 * and rate-limit buckets; a hash can only belong to one key).
 */
export function validateKeyList(input: unknown): KeyListResult {
  if (input === null || input === undefined) return { keys: [], problems: [] };
  if (!Array.isArray(input)) return { keys: [], problems: ['expected a list of keys'] };
  const keys: StoredKey[] = [];
  const problems: string[] = [];
  input.forEach((entry, index) => {
    const label = entryLabel(index, entry);
    const parsed = storedKeySchema.safeParse(entry);
    if (parsed.success) keys.push(parsed.data);
    else problems.push(...describeIssues(parsed.error.issues).map((problem) => `${label} ${problem}`));
  });
  problems.push(...duplicateProblems(keys));
  return { keys, problems };
}

/** Problems for ids or hashes used by more than one key of the same list. */
export function duplicateProblems(keys: readonly Pick<StoredKey, 'id' | 'hash'>[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const hashes = new Map<string, string>();
  for (const key of keys) {
    if (ids.has(key.id)) problems.push(`(${key.id}) id: the id "${key.id}" is used by more than one key`);
    ids.add(key.id);
    const owner = hashes.get(key.hash);
    if (owner !== undefined) problems.push(`(${key.id}) hash: the same key is also stored as "${owner}"`);
    else hashes.set(key.hash, key.id);
  }
  return problems;
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.length === 0 ? '(entry)' : issue.path.map(String).join('.')}: ${issue.message}`);
}

function entryLabel(index: number, entry: unknown): string {
  const id = typeof entry === 'object' && entry !== null ? (entry as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? `[${index}] (${id})` : `[${index}]`;
}

/** A new key whose id or secret the store already holds. */
export class KeyExistsError extends Error {
  constructor(
    readonly reason: 'id' | 'hash',
    readonly id: string,
  ) {
    super(reason === 'id' ? `a key with id "${id}" already exists` : `the key of "${id}" is already stored under another id`);
    this.name = 'KeyExistsError';
  }
}
