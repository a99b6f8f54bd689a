import { readdirSync, readFileSync } from 'node:fs';

/**
 * What the benchmark reads about the servers from /proc: resident memory, CPU time and system calls. Reading
 * /proc from outside costs the measured process nothing, unlike asking it over HTTP.
 */

/** Clock ticks per second for /proc/PID/stat times: USER_HZ, 100 on every Linux ABI Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** VmRSS of a process in KiB. */
export function residentKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/**
 * Read and write system calls a process has made (`syscr`, `syscw` of /proc/PID/io): per request,
 * how many pieces its streams arrive and leave in. Needs the same user as the process (or root).
 */
export function systemCalls(pid: number): { reads: number; writes: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const count = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
  return { reads: count('syscr'), writes: count('syscw') };
}

/** User + system CPU time of a process in seconds, all its threads (utime and stime, fields 14 and 15 of stat). */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/**
 * User + system CPU time of a Node process's main thread in seconds: its event loop (and the
 * JavaScript it runs), without V8's helper threads or worker threads. The main thread's id is the pid.
 */
export function eventLoopCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/**
 * User + system CPU seconds of each thread of a process, by thread id (ids grow in creation order:
 * the main thread is the pid, V8's helper threads come next, a worker thread started later comes
 * later). Node names all its threads `node`, so the id is what tells them apart.
 */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(Number(tid), statCpuSeconds(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

function statCpuSeconds(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // The command name (field 2) is parenthesised and may contain spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

export interface CpuAccount<T> {
  readonly result: T;
  readonly wallSeconds: number;
  /** CPU seconds of each watched pid over the run, in the order given. */
  readonly processSeconds: readonly number[];
  /** Average number of busy cores of the whole machine over the run. */
  readonly machineBusyCores: number;
  /**
   * Cores used by processes outside the benchmark (user + system time of the machine minus that
   * of the benchmark's servers and of this process with its reaped children: wrk, the load
   * generator). Near 0 on a quiet machine; above ~0.1 something else competed for the CPU.
   * NaN when `benchPids` was not given.
   */
  readonly foreignCores: number;
}

/** Measures how much CPU some processes, and the machine as a whole, spend while `work` runs. */
export async function cpuDuring<T>(pids: readonly number[], work: () => Promise<T>, benchPids: readonly number[] = []): Promise<CpuAccount<T>> {
  const before = pids.map(cpuSeconds);
  const benchBefore = benchCpuSeconds(benchPids);
  const machineBefore = machineCpuSeconds();
  const wallBefore = performance.now();
  const result = await work();
  const wallSeconds = (performance.now() - wallBefore) / 1000;
  const machineAfter = machineCpuSeconds();
  const benchAfter = benchCpuSeconds(benchPids);
  return {
    result,
    wallSeconds,
    processSeconds: pids.map((pid, index) => cpuSeconds(pid) - before[index]!),
    machineBusyCores: (machineAfter.busy - machineBefore.busy) / wallSeconds,
    foreignCores:
      benchPids.length === 0 ? Number.NaN : (machineAfter.task - machineBefore.task - (benchAfter - benchBefore)) / wallSeconds,
  };
}

/** The servers' CPU plus this process's own and that of its children it has reaped (wrk, load generator). */
function benchCpuSeconds(serverPids: readonly number[]): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime: fields 14–17.
  const self = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
  return serverPids.reduce((sum, pid) => sum + cpuSeconds(pid), self);
}

/** Busy and total CPU time of the whole machine in seconds, from the first line of /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number; task: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal …
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  // user + nice + system: time charged to processes (irq/softirq/steal are not).
  const task = (ticks[0] ?? 0) + (ticks[1] ?? 0) + (ticks[2] ?? 0);
  return { busy: (total - idle) / CLOCK_TICKS_PER_SECOND, total: total / CLOCK_TICKS_PER_SECOND, task: task / CLOCK_TICKS_PER_SECOND };
}

/** The first child of a process (nginx's master → its only worker). */
export function firstChildPid(pid: number): number | undefined {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return children === '' ? undefined : Number(children.split(' ')[0]);
}
