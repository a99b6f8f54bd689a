/** The collector's pauses in a process's `node --trace-gc` output (profile-gateway.ts). */

export interface GcPauses {
  readonly scavenges: number;
  readonly scavengeMs: readonly number[];
  readonly markCompacts: number;
  readonly markCompactMs: number;
}

/** The pauses in `--trace-gc` output: `... ms: Scavenge 45.1 (50.2) -> 44.0 (51.2) MB, 1.50 / 0.00 ms ...`. */
export function gcPauses(text: string): GcPauses {
  const scavengeMs: number[] = [];
  let markCompacts = 0;
  let markCompactMs = 0;
  for (const match of text.matchAll(/ ms: (Scavenge|Mark-Compact|Mark-sweep)\b[^\n]*?MB, ([\d.]+) \/ [\d.]+ ms/g)) {
    const pause = Number(match[2]);
    if (match[1] === 'Scavenge') scavengeMs.push(pause);
    else {
      markCompacts++;
      markCompactMs += pause;
    }
  }
  return { scavenges: scavengeMs.length, scavengeMs, markCompacts, markCompactMs };
}
