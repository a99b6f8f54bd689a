/**
 * Which of a target's `processes` gateway processes serves round `round` of an interleaved
 * benchmark: the baseline takes them in turn, the compared targets with a shift that grows every
 * `processes` rounds, so that over `processes`² rounds every pairing of a baseline process with a
 * compared one occurs once. Two processes of one build serve a few per cent apart for their whole
 * life (test/bench/RESULTS.md, "How the benchmarks measure"); pairing them all spreads that over the rounds instead of
 * leaving it in every one.
 */
export function processOfRound(round: number, processes: number, compared: boolean): number {
  return compared ? (round + Math.floor(round / processes)) % processes : round % processes;
}
