import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The built CLI; `npm test` builds it first (tests of the real process need real JavaScript). */
export const CLI_PATH = resolve('dist/src/cli/tollbooth.js');

export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the text of the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `script` (default the CLI) is any built script that is run the same way, e.g. a bench peer. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, script = CLI_PATH): CliProcess {
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    out += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    err += text;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitForLine: async (pattern, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = out.split('\n').find((candidate) => pattern.test(candidate));
        if (line !== undefined) return line;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`no line matching ${pattern} (exit ${child.exitCode}); stdout:\n${out}\nstderr:\n${err}`);
        }
        await new Promise((wake) => setTimeout(wake, 20));
      }
    },
  };
}

/** A running `tollbooth demo` and the client settings its export line printed. */
export interface RunningDemo {
  readonly demo: CliProcess;
  readonly apiKey: string;
  readonly baseURL: string;
}

/**
 * The demo as a user runs it (`tollbooth demo --config config/demo.yaml`, built CLI) on free ports
 * (TOLLBOOTH_PORT=0, TOLLBOOTH_ADMIN_PORT=0, TOLLBOOTH_DEMO_FREE_PORTS=1), once it has printed its key.
 * `started` receives the process first, so the caller's teardown can stop it even if the key never comes.
 */
export async function startDemo(started: (demo: CliProcess) => void): Promise<RunningDemo> {
  const demo = runCli(['demo', '--config', 'config/demo.yaml'], { TOLLBOOTH_PORT: '0', TOLLBOOTH_ADMIN_PORT: '0', TOLLBOOTH_DEMO_FREE_PORTS: '1' });
  started(demo);
  const exportLine = await demo.waitForLine(/export OPENAI_API_KEY=/, 15_000);
  const [, apiKey, baseURL] = /OPENAI_API_KEY=(\S+) OPENAI_BASE_URL=(\S+)/.exec(exportLine)!;
  return { demo, apiKey: apiKey!, baseURL: baseURL! };
}

/** Stops a demo (or any CLI process) that is still running, and waits for it to exit. */
export async function stopCli(running: CliProcess | undefined): Promise<void> {
  if (running === undefined || running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill('SIGKILL');
  await running.exited();
}
