import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { reloadOnChange } from '../files/reload-on-change.js';
import { InternalErrors } from '../errors/internal-errors.js';
import { isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';
import { KeyExistsError, validateKeyList } from './key-list.js';
import type { KeyRing } from './key-ring.js';
import type { StoredKey } from './policy.js';

/** Raised when a keys file cannot be used; `problems` lists every one found. */
export class KeysFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid keys file (${file}):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'KeysFileError';
  }
}

/** Reads and validates a keys file: a YAML list of stored keys (an empty file is an empty list). */
export function readKeysFile(file: string, options: { missingIsEmpty?: boolean } = {}): StoredKey[] {
  const document = parseKeysDocument(file, options.missingIsEmpty ?? false);
  const result = validateKeyList(document.toJS());
  if (result.problems.length > 0) throw new KeysFileError(file, result.problems);
  return result.keys;
}

/**
 * Feeds a ring from a keys file and reloads it when the file changes or on SIGHUP. A bad edit is
 * logged with every problem and the previous keys stay in force. The first read happens here and throws on problems: a gateway should not start with a broken keys file.
 */
export function watchKeysFile(file: string, ring: KeyRing, log: Logger, internalErrors = new InternalErrors(log)): { stop(): void } {
  const path = resolve(file);
  ring.replaceSource('file', readKeysFile(path));

  const reload = (reason: string): void => {
    let keys: StoredKey[];
    try {
      keys = readKeysFile(path);
    } catch (error) {
      const problems = error instanceof KeysFileError ? error.problems : [(error as Error).message];
      log.error({ reason, file: path, problems }, 'keys file rejected: keeping the previous keys');
      return;
    }
    ring.replaceSource('file', keys);
    log.info({ reason, file: path, keys: keys.length }, 'keys file reloaded');
  };
  return reloadOnChange(path, 'keys file', log, internalErrors.guard('key_reload', reload));
}

/** Appends a key to a keys file (created when missing), keeping the file's comments and layout. */
export function addToKeysFile(file: string, key: StoredKey): void {
  const existing = readKeysFile(file, { missingIsEmpty: true });
  if (existing.some((stored) => stored.id === key.id)) throw new KeyExistsError('id', key.id);
  if (existing.some((stored) => stored.hash === key.hash)) throw new KeyExistsError('hash', key.id);
  const document = parseKeysDocument(file, true);
  const list = document.contents instanceof YAMLSeq ? document.contents : new YAMLSeq();
  list.items.push(document.createNode(key));
  document.contents = list;
  writeAtomically(file, document.toString());
}

/** Removes the key with this id; returns false when the file holds no such key. */
export function removeFromKeysFile(file: string, id: string): boolean {
  return editEntry(file, id, (list, index) => list.items.splice(index, 1));
}

/** Replaces the entry of `key.id` with `key` (the other entries and their comments stay); false when there is none. */
export function replaceInKeysFile(file: string, key: StoredKey): boolean {
  return editEntry(file, key.id, (list, index, document) => {
    list.items[index] = document.createNode(key);
  });
}

function editEntry(file: string, id: string, edit: (list: YAMLSeq, index: number, document: ReturnType<typeof parseDocument>) => void): boolean {
  readKeysFile(file);
  const document = parseKeysDocument(file, false);
  const list = document.contents;
  if (!isSeq(list)) return false;
  const index = list.items.findIndex((item) => isMap(item) && item.get('id') === id);
  if (index < 0) return false;
  edit(list, index, document);
  writeAtomically(file, document.toString());
  return true;
}

function parseKeysDocument(file: string, missingIsEmpty: boolean): ReturnType<typeof parseDocument> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (missingIsEmpty && (error as NodeJS.ErrnoException).code === 'ENOENT') text = '';
    else throw new KeysFileError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new KeysFileError(file, document.errors.map((error) => `not valid YAML: ${error.message}`));
  return document;
}

/**
 * Readers (the gateway's watcher) see the old file or the new one, never a half-written one. The
 * replacement keeps the old file's permissions, so a gateway running as another user can still read it.
 */
function writeAtomically(file: string, text: string): void {
  let mode = 0o644;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    // a new file
  }
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  renameSync(temporary, file);
}
