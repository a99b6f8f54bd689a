/**
 * One measurement of one target, shared by the proxy benchmark (run-proxy-bench.ts) and the peer
 * benchmark (peer-bench.ts): a wrk run or a paced-stream run with the CPU of the target's process
 * and of the simulator taken from /proc around it, and the memory a freshly started server holds
 * per open stream. The orchestrators decide what to run in which order and what to call the figures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuDuring, residentKiB } from './procfs.js';
import { spreadOf } from './stats.js';
import type { SimTiming } from './scenario.js';
import type { StreamLoadResult } from './stream-load.js';
import { runStreamLoad, type StreamLoadArgs } from './stream-load-process.js';
import { runWrk, type WrkResult } from './wrk.js';

/** A server under test: where to send requests, and the process whose CPU and memory count. */
export interface Target {
  readonly name: string;
  readonly url: string;
  /** The process that does the work: the simulator for direct, nginx's worker, the gateway. */
  readonly pid: number;
}

/** The environment variable `name` the orchestrator's shell script sets (`fallback` when unset). */
export function scriptEnvironment(script: string): (name: string, fallback?: string) => string {
  return (name, fallback) => {
    const value = process.env[name] ?? fallback;
    if (value === undefined) throw new Error(`${name} is not set (run through ${script})`);
    return value;
  };
}

/**
 * BENCH_TARGETS: a JSON array of `{name, url, pid, ...}`; `withExtras` checks and keeps the fields
 * an orchestrator adds beyond a Target's.
 */
export function parseTargets<T extends Target = Target>(text: string, withExtras: (target: Target, entry: Readonly<Record<string, unknown>>) => T = (target) => target as T): T[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error('BENCH_TARGETS must be a JSON array');
  return parsed.map((entry: unknown) => {
    const candidate = entry as Record<string, unknown>;
    if (typeof candidate.name !== 'string' || typeof candidate.url !== 'string' || typeof candidate.pid !== 'number') {
      throw new Error(`bad BENCH_TARGETS entry ${JSON.stringify(entry)}`);
    }
    return withExtras({ name: candidate.name, url: candidate.url, pid: candidate.pid }, candidate);
  });
}

/** What every measurement needs besides the target. */
export interface MeasureContext {
  readonly simPid: number;
  /** Every long-lived benchmark server, for the foreign-CPU check (procfs.cpuDuring). */
  readonly benchPids: readonly number[];
}

/** CPU around a run: the target's and the simulator's seconds, the machine's and foreign cores. */
export interface Accounted<T> {
  readonly result: T;
  readonly wallSeconds: number;
  readonly serverCpuSeconds: number;
  readonly simCores: number;
  readonly machineBusyCores: number;
  readonly foreignCores: number;
}

async function accounted<T>(bench: MeasureContext, target: Target, work: () => Promise<T>): Promise<Accounted<T>> {
  const account = await cpuDuring([target.pid, bench.simPid], work, bench.benchPids);
  const [serverCpuSeconds = 0, simCpuSeconds = 0] = account.processSeconds;
  return {
    result: account.result,
    wallSeconds: account.wallSeconds,
    serverCpuSeconds,
    simCores: simCpuSeconds / account.wallSeconds,
    machineBusyCores: account.machineBusyCores,
    foreignCores: account.foreignCores,
  };
}

/** `wrk -t1 -c<connections>` with `script` for `seconds`. */
export function measureWrk(bench: MeasureContext, target: Target, script: string, connections: number, seconds: number): Promise<Accounted<WrkResult>> {
  return accounted(bench, target, () => runWrk(target.url, script, connections, seconds));
}

/**
 * `streams` concurrent paced streams for `durationMs`; each worker's first stream (connection
 * set-up) is left out of the figures (warm-up 1.3 s: a 64 × 20 ms stream lasts about that long).
 */
export function measurePaced(
  bench: MeasureContext,
  target: Target,
  streams: number,
  timing: SimTiming,
  durationMs: number,
  extra: Pick<StreamLoadArgs, 'headers' | 'idPrefix'> = {},
): Promise<Accounted<StreamLoadResult>> {
  return accounted(bench, target, () =>
    runStreamLoad({ url: target.url, concurrency: streams, ...timing, durationMs, warmupMs: 1300, rampMs: 1000, deadlineMs: durationMs + 20_000, ...extra }),
  );
}

export interface OpenStreamsMemory {
  readonly idleKiB: number;
  /** RSS samples (KiB) every 250 ms while all streams are open. */
  readonly samples: readonly number[];
  readonly perStreamKiB: number;
  readonly load: StreamLoadResult;
}

/**
 * RSS of process `pid` (a server started afresh and warmed up) idle vs with `streams` long paced
 * streams open through `url`, sampled while all of them are open.
 */
export async function openStreamsMemory(pid: number, url: string, streams: number, timing: SimTiming, headers: Readonly<Record<string, string>> = {}): Promise<OpenStreamsMemory> {
  const idleKiB = residentKiB(pid);
  const samples: number[] = [];
  const spawnedAt = performance.now();
  // The first stream starts right after the generator boots and ends after tokens × pacing.
  const windowEnd = spawnedAt + timing.tokens * timing.interTokenMs;
  let sampler: NodeJS.Timeout | undefined;
  const load = await runStreamLoad({ url, concurrency: streams, ...timing, durationMs: 0, warmupMs: 0, rampMs: 500, deadlineMs: 30_000, once: true, headers }, () => {
    const sample = (): void => {
      if (performance.now() > windowEnd) return clearInterval(sampler);
      samples.push(residentKiB(pid));
    };
    sample();
    sampler = setInterval(sample, 250);
  });
  clearInterval(sampler);
  return { idleKiB, samples, perStreamKiB: (spreadOf(samples).median - idleKiB) / streams, load };
}

/** Warm-up of a freshly started server: both code paths compiled and the connection pools filled. */
export async function warmUp(url: string, nonStreamScript: string, streamScript: string): Promise<void> {
  await runWrk(url, nonStreamScript, 32, 1);
  await runWrk(url, streamScript, 32, 1);
  await sleep(1000);
}
