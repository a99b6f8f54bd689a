import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import type { SoakResult } from '../../bench/tracing-bench.js';

const SCRIPT = 'dist/test/bench/tracing-bench.js';

/** The short variant of the exporter-down soak (`npm run bench:tracing` runs the 5-minute one). */
function runSoak(args: string[]): Promise<SoakResult> {
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} is missing: run "npm run build" first`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, 'soak', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1);
      if (code !== 0 || last === undefined) reject(new Error(`soak exited with ${code}:\n${stderr}`));
      else resolve(JSON.parse(last) as SoakResult);
    });
  });
}

describe('tracing with the exporter unreachable', () => {
  // Functional bars only: no request may fail. Whether memory stays flat needs minutes, which is
  // the benchmark's job (this run is too short to tell heap warm-up from growth).
  it.each([['closed'], ['silent']])('serves every stream while the OTLP endpoint is %s', async (sink) => {
    const result = await runSoak(['--minutes', '0.2', '--sink', sink, '--concurrency', '16', '--itl-ms', '2']);
    expect(result.failed).toBe(0);
    expect(result.completed).toBeGreaterThan(100);
    expect(result.completed).toBe(result.started);
  }, 90_000);
});
