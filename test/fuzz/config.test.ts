import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { oddValue } from './arbitraries.js';
import { checkProperty, failOnEscapedErrors, FUZZ_RUNS, fuzzTimeout, nestedArraysText } from './harness.js';

/**
 * Config files of arbitrary text: loading gives a config or a ConfigError that lists its problems,
 * never another exception.
 */
failOnEscapedErrors();

const directory = mkdtempSync(join(tmpdir(), 'tollbooth-fuzz-config-'));
const file = join(directory, 'tollbooth.yaml');
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A valid configuration touching most sections: the starting point of mutations. */
const VALID = {
  server: { host: '127.0.0.1', port: 8080, bodyLimitBytes: 1_048_576 },
  replicas: [{ name: 'r0', url: 'http://127.0.0.1:8000', models: ['m'] }],
  auth: { enabled: false },
  health: { probeIntervalMs: 1000 },
  logging: { level: 'info' },
  cost: { currency: 'USD', tokenPrices: { m: { input: 1, output: 2 } }, replicaHourly: { r0: 1.5 } },
};

/** Paths into VALID (and a few that are not in it) whose value a mutation replaces. */
const PATHS: readonly (readonly string[])[] = [
  [],
  ['server'],
  ['server', 'host'],
  ['server', 'port'],
  ['server', 'bodyLimitBytes'],
  ['server', 'headersTimeoutMs'],
  ['server', 'bodyIdleTimeoutMs'],
  ['server', 'requestTimeoutMs'],
  ['server', 'maxConnections'],
  ['server', 'drainTimeoutMs'],
  ['replicas'],
  ['replicas', '0'],
  ['replicas', '0', 'url'],
  ['replicas', '0', 'models'],
  ['auth'],
  ['auth', 'enabled'],
  ['auth', 'keys'],
  ['health', 'probeIntervalMs'],
  ['logging', 'level'],
  ['cost', 'tokenPrices', 'm', 'input'],
  ['cost', 'replicaHourly'],
  ['rateLimits'],
  ['metrics'],
  ['admin'],
  ['passthrough'],
  ['tracing'],
  ['redis'],
  ['routing'],
  ['unknownSection'],
];

function mutated(mutations: ReadonlyArray<readonly [readonly string[], unknown]>): unknown {
  let root: unknown = structuredClone(VALID);
  for (const [path, value] of mutations) {
    if (path.length === 0) {
      root = value;
      continue;
    }
    if (typeof root !== 'object' || root === null) continue;
    let node = root as Record<string, unknown>;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
  }
  return root;
}

const mutation = fc.array(fc.tuple(fc.constantFrom(...PATHS), oddValue), { minLength: 1, maxLength: 4 });

const configText = fc.oneof(
  { weight: 4, arbitrary: mutation.map((mutations) => toYaml(mutated(mutations))) },
  { weight: 2, arbitrary: mutation.map((mutations) => JSON.stringify(mutated(mutations))) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => toYaml(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '---', '~', '- a\n- b', 'server: &a [*a]', 'a: !!binary x', '{', 'replicas: *nope', 'x: !!js/function "f"', '? [a]\n: b') },
  // Shallow nesting only in process: deep YAML nesting can abort the process (see the CLI property below).
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((depth) => `replicas: ${nestedArraysText(depth, '1')}\n`) },
);

/** YAML nested up to 100,000 deep, in flow or block style. */
const deepConfigText = fc
  .record({ depth: fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.constant(100_000)), flow: fc.boolean() })
  .map(({ depth, flow }) => ({
    depth,
    flow,
    text: flow ? `replicas: ${nestedArraysText(depth, '1')}\n` : `replicas:\n${Array.from({ length: Math.min(depth, 20_000) }, (_, level) => `${' '.repeat(level)}- `).join('\n')}1\n`,
    [fc.toStringMethod]: () => `nested yaml(depth=${depth}, ${flow ? 'flow' : 'block'})`,
  }));

function expectConfigOrProblems(load: () => unknown): void {
  try {
    const config = load() as { server?: unknown };
    expect(typeof config.server).toBe('object');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) expect(problem).toMatch(/\S/);
  }
}

/** `tollbooth check-config` on `text`: its exit code and signal (the built CLI, as an operator runs it). */
function checkConfigProcess(text: string): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  writeFileSync(file, text);
  const result = spawnSync(process.execPath, [CLI, 'check-config', '--config', file], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } });
  return { status: result.status, signal: result.signal, stderr: result.stderr.slice(0, 400) };
}

const CLI = fileURLToPath(new URL('../../dist/src/cli/tollbooth.js', import.meta.url));
/** Each case starts a process: a small share of the case count. */
const PROCESS_RUNS = Math.max(4, Math.ceil(FUZZ_RUNS / 500));

describe('config files of arbitrary text', () => {
  it('loads a file into a config or a ConfigError listing its problems', { timeout: fuzzTimeout(4) }, () => {
    checkProperty(
      'config-file',
      fc.property(configText, (text) => {
        writeFileSync(file, text);
        expectConfigOrProblems(() => loadConfig({ file, env: {} }));
      }),
    );
  });

  it('validates an in-memory value into a config or a ConfigError listing its problems', { timeout: fuzzTimeout(2) }, () => {
    checkProperty(
      'config-object',
      fc.property(fc.oneof(mutation.map(mutated), fc.jsonValue()), (value) => {
        expectConfigOrProblems(() => parseConfig(value));
      }),
    );
  });

  it('checks a deeply nested config file in a process that ends with a verdict (exit 0 or 2), never a crash', { timeout: fuzzTimeout(5_000, PROCESS_RUNS) }, () => {
    expect(existsSync(CLI), 'run `npm run build` first: this property starts the built CLI').toBe(true);
    checkProperty(
      'config-deep-nesting-process',
      fc.property(deepConfigText, ({ text }) => {
        const outcome = checkConfigProcess(text);
        expect(outcome.signal === null && (outcome.status === 0 || outcome.status === 2), JSON.stringify(outcome)).toBe(true);
      }),
      PROCESS_RUNS,
    );
  });
});
