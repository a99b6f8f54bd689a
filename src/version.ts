import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The version in package.json, found by walking up from this module (src/ in tests, dist/src/ when built). */
function readVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth += 1) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'tollbooth' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // not here: look one level up
    }
    directory = dirname(directory);
  }
  return 'unknown';
}

export const TOLLBOOTH_VERSION = readVersion();
