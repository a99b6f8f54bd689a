import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** wrk drives the fixed-size request scenarios (a) and (b): one POST body, many connections. */

export interface WrkRequest {
  readonly path: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface WrkResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** Latency percentiles in ms, from wrk's --latency distribution. */
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** Non-2xx responses plus socket errors (connect, read, write, timeout). */
  readonly errors: number;
}

/** wrk's Lua hooks are the only way to give it a method, a body and headers. */
export function writeWrkScript(file: string, request: WrkRequest): void {
  const lines = [
    'wrk.method = "POST"',
    `wrk.path = ${JSON.stringify(request.path)}`,
    // A JSON string literal is a valid Lua string literal for the ASCII bodies used here.
    `wrk.body = ${JSON.stringify(request.body)}`,
    ...Object.entries(request.headers).map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (match === null) throw new Error(`unrecognised wrk duration '${text}'`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Parses wrk 4's text report (run with --latency). */
export function parseWrkOutput(output: string): WrkResult {
  const percentile = (p: number): number => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)\\s*$`, 'm').exec(output);
    if (match === null) throw new Error(`wrk output has no ${p}% latency line:\n${output}`);
    return durationMs(match[1]!);
  };
  const requests = /^\s*(\d+) requests in /m.exec(output);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  if (requests === null || rate === null) throw new Error(`unrecognised wrk output:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, value) => sum + Number(value), 0);
  return {
    requests: Number(requests[1]),
    requestsPerSecond: Number(rate[1]),
    p50Ms: percentile(50),
    p90Ms: percentile(90),
    p99Ms: percentile(99),
    errors: (non2xx === null ? 0 : Number(non2xx[1])) + socketErrors,
  };
}

/** One thread, `connections` keep-alive connections, for `seconds`. */
export function runWrk(url: string, script: string, connections: number, seconds: number): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${output}`));
      try {
        resolve(parseWrkOutput(output));
      } catch (error) {
        reject(error);
      }
    });
  });
}
