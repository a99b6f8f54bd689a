import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { StreamLoadResult } from './stream-load.js';

/** Runs stream-load.js as a child process; the orchestrator never shares a core's event loop with it. */

const SCRIPT = fileURLToPath(new URL('./stream-load.js', import.meta.url));

export interface StreamLoadArgs {
  readonly url: string;
  readonly concurrency: number;
  readonly tokens: number;
  readonly interTokenMs: number;
  readonly ttftMs: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly rampMs: number;
  readonly deadlineMs: number;
  readonly once?: boolean;
  /** Give every stream an `x-request-id` with this prefix and report the samples. */
  readonly idPrefix?: string;
  /** Extra request headers for every stream (e.g. `authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** `onOpen` runs when a `--once` run reports all its streams open. */
export function runStreamLoad(args: StreamLoadArgs, onOpen?: () => void): Promise<StreamLoadResult> {
  const argv = [
    SCRIPT,
    `--url=${args.url}`,
    `--concurrency=${args.concurrency}`,
    `--tokens=${args.tokens}`,
    `--itl-ms=${args.interTokenMs}`,
    `--ttft-ms=${args.ttftMs}`,
    `--duration-ms=${args.durationMs}`,
    `--warmup-ms=${args.warmupMs}`,
    `--ramp-ms=${args.rampMs}`,
    `--deadline-ms=${args.deadlineMs}`,
    ...(args.once === true ? ['--once'] : []),
    ...(args.idPrefix === undefined ? [] : [`--id-prefix=${args.idPrefix}`]),
    ...Object.entries(args.headers ?? {}).map(([name, value]) => `--header=${name}: ${value}`),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let result: StreamLoadResult | undefined;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    createInterface({ input: child.stdout }).on('line', (line) => {
      // JSON has no NaN: an empty summary (no stream measured) arrives as null, and becomes NaN again.
      const message = JSON.parse(line, (_key, value: unknown) => (value === null ? Number.NaN : value)) as { type: string };
      if (message.type === 'open') onOpen?.();
      else if (message.type === 'result') result = message as StreamLoadResult;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`stream-load exited with ${code}: ${stderr}`));
    });
  });
}
