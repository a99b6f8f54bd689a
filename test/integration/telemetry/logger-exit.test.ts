import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOGGER = fileURLToPath(new URL('../../../dist/src/telemetry/logger.js', import.meta.url));

describe('the process logger (stdout, coalesced)', () => {
  it('writes the lines of the last turn when the process exits at once', () => {
    const script = `import(${JSON.stringify(LOGGER)}).then(({ createLogger }) => {
      const log = createLogger('info');
      for (let i = 0; i < 3; i++) log.info({ n: i }, 'last words');
      process.exit(0);
    });`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(child.status).toBe(0);
    const lines = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as { n: number; msg: string });
    expect(lines.map((line) => [line.n, line.msg])).toEqual([
      [0, 'last words'],
      [1, 'last words'],
      [2, 'last words'],
    ]);
  });
});
