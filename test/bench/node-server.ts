import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';

/**
 * The built `tollbooth` CLI (`start` or `sim`) as a process of its own on a given port, for the
 * benchmarks that start their servers themselves (tracing-bench.ts). Its stdout (the gateway's
 * log) goes to a file or nowhere, never through this process: the orchestrator must not spend
 * CPU on the access log of the process it measures.
 */
export interface NodeServer {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface NodeServerSpec {
  readonly name: string;
  readonly command: 'start' | 'sim';
  /** Written as YAML to `<workDir>/<name>.yaml` and passed with --config. */
  readonly config: Record<string, unknown>;
  readonly port: number;
  readonly env: NodeJS.ProcessEnv;
  /** Path polled until it answers 2xx: /ready (gateway) or /health (simulator). */
  readonly readyPath: string;
  readonly workDir: string;
  /** File that receives stdout; undefined: discarded. */
  readonly stdoutFile?: string;
}

const CLI = 'dist/src/cli/tollbooth.js';
const live = new Set<() => void>();
// However the benchmark ends, no server outlives it.
process.once('exit', () => {
  for (const kill of live) kill();
});

/** Polls `url` every 100 ms until it answers 2xx; fails at once if the process exits first. */
export async function waitReady(url: string, exited: () => number | null, name: string, timeoutMs = 15_000): Promise<void> {
  for (let attempt = 0; attempt < timeoutMs / 100; attempt++) {
    const code = exited();
    if (code !== null) throw new Error(`${name} exited with ${code} before it was ready`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name}: ${url} not ready after ${timeoutMs / 1000} s`);
}

export async function startNodeServer(spec: NodeServerSpec): Promise<NodeServer> {
  const configFile = join(spec.workDir, `${spec.name}.yaml`);
  writeFileSync(configFile, stringify(spec.config));
  const stdout = spec.stdoutFile === undefined ? 'ignore' : openSync(spec.stdoutFile, 'a');
  // BENCH_GATEWAY_NODE_FLAGS: node flags for the gateways (e.g. `--cpu-prof --cpu-prof-dir=DIR`: a profile per gateway).
  const nodeFlags = spec.command === 'start' ? (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(' ').filter(Boolean) : [];
  const child = spawn(process.execPath, [...nodeFlags, CLI, spec.command, '--config', configFile], {
    // A gateway's admin listener on a free port, so several gateways can run side by side.
    env: { TOLLBOOTH_ADMIN_PORT: '0', ...spec.env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  if (typeof stdout === 'number') closeSync(stdout);
  if (child.pid === undefined) throw new Error(`could not start ${spec.name}`);
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  live.add(kill);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${spec.port}`;
  try {
    await waitReady(`${url}${spec.readyPath}`, () => child.exitCode, spec.name);
  } catch (error) {
    kill();
    live.delete(kill);
    throw error;
  }
  return {
    name: spec.name,
    url,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const forced = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(forced);
      }
      live.delete(kill);
    },
  };
}

/** The inherited environment without any OTEL_* variable, so only what a scenario sets applies. */
export function environmentWithoutOtel(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('OTEL_')) env[name] = value;
  return env;
}
