import { readFileSync } from 'node:fs';

/**
 * What the benchmark reads about the servers from /proc: resident memory and CPU time. Reading
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

/** User + system CPU time of a process in seconds (utime and stime, fields 14 and 15 of stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is parenthesised and may contain spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Measures how much CPU a process spends while `work` runs. */
export async function cpuDuring<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpuSeconds: number; wallSeconds: number }> {
  const cpuBefore = cpuSeconds(pid);
  const wallBefore = performance.now();
  const result = await work();
  return { result, cpuSeconds: cpuSeconds(pid) - cpuBefore, wallSeconds: (performance.now() - wallBefore) / 1000 };
}
