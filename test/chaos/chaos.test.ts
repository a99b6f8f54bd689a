import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

/**
 * CI's run of `npm run chaos`, in its quick mode (100 slow connections per scenario instead of
 * 2,000; every other scenario as in the full run): the script must print its table and exit 0.
 */
const SCRIPT = resolve('dist/test/chaos/chaos.js');

it('replays the chaos scenarios against the built CLI with every column at zero', { timeout: 420_000 }, async () => {
  expect(existsSync(SCRIPT), 'run `npm run build` first').toBe(true);
  const child = spawn(process.execPath, [SCRIPT, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const code = await new Promise<number | null>((done) => child.on('exit', (exitCode) => done(exitCode)));
  console.log(output);
  expect(output).toMatch(/^scenario\s+crashes\s+open conns\s+under-count\s+drained w\/o log\s+other failures\s+notes$/m);
  expect(output).toMatch(/chaos: \d+ scenarios, 0 failed/);
  expect(code).toBe(0);
});
