/**
 * Epoch milliseconds with sub-millisecond precision. performance.now() is monotonic inside a
 * process; adding timeOrigin makes values comparable with other processes on the same machine.
 */
const origin = performance.timeOrigin;

export function nowMs(): number {
  return origin + performance.now();
}
