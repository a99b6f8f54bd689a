import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

/** The built CLI, as operators start it. */
export const CLI = resolve('dist/src/cli/tollbooth.js');

/**
 * Options of issue 18 that a build may not know yet (the schema is strict, so such a build refuses
 * the whole file). A scenario that needs one reports the refusal and runs without them, so the
 * table still shows what that build does.
 */
const NEWER_OPTIONS: ReadonlyArray<readonly string[]> = [
  ['server', 'headersTimeoutMs'],
  ['server', 'bodyIdleTimeoutMs'],
  ['server', 'requestTimeoutMs'],
  ['server', 'maxConnections'],
  ['admin'],
  ['passthrough'],
];

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A gateway started with `tollbooth start --config <file>`, its log lines parsed as they come. */
export class GatewayProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  exit: ExitStatus | undefined;
  /** Set once the chaos script asked the process to stop: an exit after that is not a crash. */
  stopping = false;
  stderr = '';
  private readonly exited: Promise<ExitStatus>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly notes: readonly string[],
    exited: Promise<ExitStatus>,
  ) {
    this.exited = exited;
  }

  /**
   * Starts the gateway. When the build refuses an option it does not know, starts it again
   * without the newer options (noted). Throws when it cannot start at all.
   */
  static async start(config: Record<string, unknown>): Promise<GatewayProcess> {
    try {
      return await GatewayProcess.startOnce(config, []);
    } catch (error) {
      const text = String((error as Error).message);
      if (!/Unrecognized key/i.test(text)) throw error;
      const refused = NEWER_OPTIONS.filter((path) => text.includes(path.at(-1)!)).map((path) => path.join('.'));
      return GatewayProcess.startOnce(withoutNewerOptions(config), [`this build refuses ${refused.join(', ') || 'newer options'}: ran without them`]);
    }
  }

  private static startOnce(config: Record<string, unknown>, notes: string[]): Promise<GatewayProcess> {
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-chaos-')), 'tollbooth.yaml');
    writeFileSync(file, stringify(config));
    const child = spawn(process.execPath, [CLI, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let pending = '';
    let gateway: GatewayProcess | undefined;
    const exited = new Promise<ExitStatus>((done) => child.on('exit', (code, signal) => done({ code, signal })));
    return new Promise((resolveStart, rejectStart) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        rejectStart(new Error(`the gateway did not start within 20 s: ${stderr.slice(0, 500)}`));
      }, 20_000);
      child.stdout!.setEncoding('utf8').on('data', (text: string) => {
        pending += text;
        const parts = pending.split('\n');
        pending = parts.pop()!;
        for (const part of parts) {
          if (part.trim() === '') continue;
          let line: Record<string, unknown>;
          try {
            line = JSON.parse(part) as Record<string, unknown>;
          } catch {
            continue;
          }
          (gateway?.lines ?? lines).push(line);
          if (gateway === undefined && typeof line.msg === 'string' && line.msg.includes('tollbooth is listening') && typeof line.url === 'string') {
            clearTimeout(timer);
            gateway = new GatewayProcess(child, line.url, notes, exited);
            gateway.lines.push(...lines);
            gateway.stderr = stderr;
            void exited.then((status) => {
              gateway!.exit = status;
            });
            resolveStart(gateway);
          }
        }
      });
      child.stderr!.setEncoding('utf8').on('data', (text: string) => {
        if (gateway === undefined) stderr += text;
        else gateway.stderr += text;
      });
      void exited.then((status) => {
        if (gateway !== undefined) return;
        clearTimeout(timer);
        rejectStart(new Error(`the gateway exited (${status.code ?? status.signal}) before listening: ${stderr.slice(0, 800)}`));
      });
    });
  }

  /** The process died without being asked to stop. */
  get crashed(): boolean {
    return this.exit !== undefined && !this.stopping;
  }

  accessLine(requestId: string): Record<string, unknown> | undefined {
    return this.lines.find((line) => line.component === 'access' && line.request_id === requestId);
  }

  async waitForAccessLine(requestId: string, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.accessLine(requestId);
      if (line !== undefined || Date.now() > deadline) return line;
      await sleep(20);
    }
  }

  /** SIGTERM, then the exit status (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 30_000): Promise<ExitStatus & { killed: boolean }> {
    this.stopping = true;
    if (this.exit !== undefined) return { ...this.exit, killed: false };
    this.child.kill('SIGTERM');
    const timer = new Promise<undefined>((done) => setTimeout(() => done(undefined), timeoutMs));
    const status = await Promise.race([this.exited, timer]);
    if (status !== undefined) return { ...status, killed: false };
    this.child.kill('SIGKILL');
    return { ...(await this.exited), killed: true };
  }
}

function withoutNewerOptions(config: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(config);
  for (const path of NEWER_OPTIONS) {
    let node: Record<string, unknown> | undefined = copy;
    for (const key of path.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    if (node !== undefined) delete node[path.at(-1)!];
  }
  return copy;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
