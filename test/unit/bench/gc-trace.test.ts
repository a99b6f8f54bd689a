import { describe, expect, it } from 'vitest';
import { gcPauses } from '../../bench/gc-trace.js';

describe('gcPauses (--trace-gc lines of Node 20)', () => {
  it('counts scavenges with their pauses apart from mark-compacts, and ignores other lines', () => {
    const log = [
      '{"level":30,"msg":"request"}',
      '[19340:0x2892a130]     7214 ms: Scavenge 50.1 (71.0) -> 38.1 (71.0) MB, 5.15 / 0.29 ms  (average mu = 0.996, current mu = 0.996) task; ',
      '[19340:0x2892a130]     7904 ms: Scavenge (interleaved) 50.2 (71.0) -> 38.6 (71.5) MB, 2.80 / 0.04 ms  (average mu = 0.996, current mu = 0.996) allocation failure; ',
      '[19340:0x2892a130]     9000 ms: Mark-Compact 60.0 (80.0) -> 40.0 (80.0) MB, 12.50 / 0.10 ms  (+ 3.0 ms in 10 steps since start of marking) finalize incremental marking via task; ',
    ].join('\n');
    expect(gcPauses(log)).toEqual({ scavenges: 2, scavengeMs: [5.15, 2.8], markCompacts: 1, markCompactMs: 12.5 });
  });
});
