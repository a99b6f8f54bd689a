import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { addToKeysFile, KeysFileError, readKeysFile, removeFromKeysFile, watchKeysFile } from '../../../src/auth/keys-file.js';
import { storedKeySchema } from '../../../src/auth/policy.js';

function keysFile(text?: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-keys-')), 'keys.yaml');
  if (text !== undefined) writeFileSync(file, text);
  return file;
}

function entry(id: string, key: string): string {
  return `- id: ${id}\n  tenant: acme\n  limits: { requestsPerMinute: 60 }\n  hash: ${hashApiKey(key)}\n`;
}

/** A logger whose lines the test can read. */
function recordingLogger(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines: () => lines };
}

async function eventually(check: () => void, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((wake) => setTimeout(wake, 25));
    }
  }
}

describe('readKeysFile', () => {
  it('reads a YAML list; an empty file is no keys', () => {
    const key = generateApiKey();
    expect(readKeysFile(keysFile(entry('team-a', key)))[0]).toMatchObject({ id: 'team-a', tenant: 'acme', hash: hashApiKey(key) });
    expect(readKeysFile(keysFile(''))).toEqual([]);
  });

  it('reports every problem of the file', () => {
    const file = keysFile(`${entry('team-a', 'k1')}- id: team-a\n  hash: nope\n- id: x\n  limits: { rpm: 1 }\n  hash: ${hashApiKey('k2')}\n`);
    try {
      readKeysFile(file);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KeysFileError);
      expect((error as KeysFileError).problems).toEqual([
        expect.stringMatching(/^\[1\] \(team-a\) hash: /),
        expect.stringMatching(/^\[2\] \(x\) limits: /),
      ]);
    }
  });

  it('rejects broken YAML and a missing file', () => {
    expect(() => readKeysFile(keysFile('- id: [unclosed\n'))).toThrow(/not valid YAML/);
    expect(() => readKeysFile(join(tmpdir(), 'no-such-dir-tollbooth', 'keys.yaml'))).toThrow(/cannot read the file/);
  });
});

describe('editing a keys file', () => {
  it('adds and removes keys, keeps comments, refuses a duplicate id', () => {
    const file = keysFile('# keys of the platform team\n');
    const first = storedKeySchema.parse({ id: 'team-a', tenant: 'acme', hash: hashApiKey('k1') });
    addToKeysFile(file, first);
    addToKeysFile(file, storedKeySchema.parse({ id: 'team-b', hash: hashApiKey('k2') }));
    expect(() => addToKeysFile(file, first)).toThrow(/already exists/);
    expect(readKeysFile(file).map((key) => key.id)).toEqual(['team-a', 'team-b']);
    expect(removeFromKeysFile(file, 'team-a')).toBe(true);
    expect(removeFromKeysFile(file, 'team-a')).toBe(false);
    expect(readKeysFile(file).map((key) => key.id)).toEqual(['team-b']);
    expect(readFileSync(file, 'utf8')).toContain('# keys of the platform team');
  });

  it('keeps the permissions of the file it replaces', () => {
    const file = keysFile('[]\n');
    chmodSync(file, 0o640);
    addToKeysFile(file, storedKeySchema.parse({ id: 'team-a', hash: hashApiKey('k1') }));
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });
});

describe('watchKeysFile', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it('reloads on change, and keeps the previous keys when an edit is broken', async () => {
    const first = generateApiKey();
    const second = generateApiKey();
    const file = keysFile(entry('team-a', first));
    const ring = new KeyRing();
    const { log, lines } = recordingLogger();
    stop = watchKeysFile(file, ring, log).stop;
    expect(ring.verify(first)?.keyId).toBe('team-a');

    writeFileSync(file, entry('team-a', first) + entry('team-b', second));
    await eventually(() => expect(ring.verify(second)?.keyId).toBe('team-b'));

    writeFileSync(file, `${entry('team-a', first)}- id: team-c\n  limits: { requestsPerMinute: -1 }\n  hash: ${hashApiKey('x')}\n`);
    await eventually(() => expect(lines().some((line) => line.msg === 'keys file rejected: keeping the previous keys')).toBe(true));
    expect(ring.verify(first)?.keyId).toBe('team-a');
    expect(ring.verify(second)?.keyId).toBe('team-b');
    const rejection = lines().find((line) => line.msg === 'keys file rejected: keeping the previous keys');
    expect(rejection?.problems).toEqual([expect.stringMatching(/^\[1\] \(team-c\) limits\.requestsPerMinute: /)]);

    writeFileSync(file, entry('team-b', second));
    await eventually(() => expect(ring.verify(first)).toBeUndefined());
    expect(ring.verify(second)?.keyId).toBe('team-b');
  });

  it("reloads when Kubernetes updates a mounted Secret (its atomic writer swaps the ..data symlink, not the file's)", async () => {
    // The layout the kubelet writes for a Secret or ConfigMap volume: keys.yaml -> ..data/keys.yaml,
    // ..data -> a timestamped directory; an update writes a new directory and renames a fresh
    // symlink over ..data, so the only name that changes in the watched directory is ..data.
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-secret-volume-'));
    const first = generateApiKey();
    const second = generateApiKey();
    const writeVersion = (name: string, text: string): void => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'keys.yaml'), text);
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    writeVersion('..2026_01_01_00_00_00.1', entry('team-a', first));
    symlinkSync(join('..data', 'keys.yaml'), join(dir, 'keys.yaml'));
    const ring = new KeyRing();
    stop = watchKeysFile(join(dir, 'keys.yaml'), ring, recordingLogger().log).stop;
    expect(ring.verify(first)?.keyId).toBe('team-a');

    writeVersion('..2026_01_01_00_01_00.2', entry('team-b', second));
    await eventually(() => expect(ring.verify(second)?.keyId).toBe('team-b'));
    expect(ring.verify(first)).toBeUndefined();
  });

  it('refuses to start from a broken file', () => {
    expect(() => watchKeysFile(keysFile('- id: x\n'), new KeyRing(), pino({ level: 'silent' }))).toThrow(KeysFileError);
  });
});
