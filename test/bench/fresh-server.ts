import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitReady } from './node-server.js';
import { firstChildPid } from './procfs.js';

/**
 * A server started afresh for one measurement. The memory scenario needs it: a process that has
 * just served minutes of load keeps a heap grown to fit it, so 1000 more streams would seem
 * free. run.sh gives the command lines (it owns how servers are configured), this starts them,
 * and every pid goes to a file that run.sh's exit trap also kills, in case this process dies first.
 */

export interface ServerRecipe {
  readonly name: string;
  readonly argv: readonly string[];
  readonly url: string;
  readonly readyPath: string;
  /** Whose memory counts: the process itself, or its first child (nginx's worker). */
  readonly measure: 'process' | 'first-child';
  /** How long it may take to answer readyPath (default 10 s; a Python proxy imports for longer). */
  readonly readyTimeoutMs?: number;
}

export interface FreshServer {
  /** The pid whose RSS is measured. */
  readonly pid: number;
  stop(): Promise<void>;
}

export function parseRecipes(text: string): ServerRecipe[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error('server recipes must be a JSON array');
  return parsed.map((entry: unknown) => {
    const recipe = entry as Partial<Record<keyof ServerRecipe, unknown>>;
    const argvOk = Array.isArray(recipe.argv) && recipe.argv.length > 0 && recipe.argv.every((arg) => typeof arg === 'string');
    if (typeof recipe.name !== 'string' || !argvOk || typeof recipe.url !== 'string' || typeof recipe.readyPath !== 'string' || (recipe.measure !== 'process' && recipe.measure !== 'first-child')) {
      throw new Error(`bad server recipe ${JSON.stringify(entry)}`);
    }
    const readyTimeoutMs = typeof recipe.readyTimeoutMs === 'number' ? { readyTimeoutMs: recipe.readyTimeoutMs } : {};
    return { name: recipe.name, argv: recipe.argv as string[], url: recipe.url, readyPath: recipe.readyPath, measure: recipe.measure, ...readyTimeoutMs };
  });
}

export async function launch(recipe: ServerRecipe, pidFile: string): Promise<FreshServer> {
  const [command, ...args] = recipe.argv;
  // A gateway's admin listener on a free port, so several gateways can run side by side.
  const child = spawn(command!, args, { env: { TOLLBOOTH_ADMIN_PORT: '0', ...process.env }, stdio: ['ignore', 'ignore', 'inherit'] });
  if (child.pid === undefined) throw new Error(`could not start ${recipe.name}`);
  appendFileSync(pidFile, `${child.pid}\n`);
  const killNow = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killNow);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitReady(new URL(recipe.readyPath, recipe.url).href, () => child.exitCode, recipe.name, recipe.readyTimeoutMs ?? 10_000);
  const pid = recipe.measure === 'process' ? child.pid : firstChildPid(child.pid);
  if (pid === undefined) throw new Error(`${recipe.name} has no worker process`);
  return {
    pid,
    stop: async () => {
      child.kill('SIGTERM');
      const timeout = sleep(5000).then(() => child.kill('SIGKILL'));
      await Promise.race([exited, timeout]);
      await exited;
      process.off('exit', killNow);
    },
  };
}
