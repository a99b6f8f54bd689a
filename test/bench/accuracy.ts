/**
 * Timing accuracy of the gateway's access log, per request: its `ttft_ms` against the TTFT the
 * load generator observed (request start → first content-bearing chunk), its `tpot_ms` against
 * the simulator's ground truth, and its `output_tokens` against the tokens the simulator really
 * generated. The pure parts live here (unit-tested); the orchestrator does the I/O.
 */
import { percentileOfSorted } from './stats.js';

/** The fields of one gateway access-log line that the comparison reads. */
export interface AccessLine {
  readonly ttftMs: number | null;
  readonly tpotMs: number | null;
  readonly outputTokens: number | null;
  readonly status: number | null;
}

/** The part of the simulator's `GET /sim/truth/:id` record that the comparison reads. */
export interface TruthTiming {
  readonly completionTokens: number;
  readonly chunkTimes: readonly number[];
  readonly outcome: string | null;
}

const numberOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/**
 * The access-log lines (`"component":"access"`) of a gateway's stdout, by request id. Other lines
 * (start-up, warnings) and lines cut off at the end of a file still being written are skipped.
 */
export function parseAccessLog(text: string): Map<string, AccessLine> {
  const lines = new Map<string, AccessLine>();
  for (const line of text.split('\n')) {
    if (!line.includes('"component":"access"')) continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof record['request_id'] !== 'string') continue;
    lines.set(record['request_id'], {
      ttftMs: numberOrNull(record['ttft_ms']),
      tpotMs: numberOrNull(record['tpot_ms']),
      outputTokens: numberOrNull(record['output_tokens']),
      status: numberOrNull(record['status']),
    });
  }
  return lines;
}

/** The true time per output token: (last content chunk − first) / (completion tokens − 1). */
export function truthTpotMs(truth: TruthTiming): number | null {
  const times = truth.chunkTimes;
  if (truth.completionTokens < 2 || times.length < 2) return null;
  return (times[times.length - 1]! - times[0]!) / (truth.completionTokens - 1);
}

export interface RequestSample {
  readonly requestId: string;
  /** TTFT seen by the load generator, ms. */
  readonly clientTtftMs: number;
}

/** Percentiles of one error, plus the share of requests within the tolerance. */
export interface ErrorDistribution {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly tolerance: number;
  /** Share (0–1) of the compared requests whose error is ≤ tolerance. */
  readonly withinShare: number;
}

export interface AccuracyResult {
  readonly requests: number;
  /** |gateway ttft_ms − load generator TTFT|, ms. */
  readonly ttftErrorMs: ErrorDistribution;
  /** |gateway tpot_ms − truth TPOT| / truth TPOT, as a fraction. */
  readonly tpotRelativeError: ErrorDistribution;
  /** Median of (load generator TTFT − gateway ttft_ms), signed: the bias behind the error. */
  readonly ttftSignedMedianMs: number;
  /** Requests whose output_tokens differ from the truth's completionTokens. */
  readonly tokenMismatches: number;
  /** Requests without an access line, a truth record, or a ttft/tpot value to compare. */
  readonly missing: number;
  readonly firstProblems: readonly string[];
  /** Raw errors, kept so the run can pool them over rounds. */
  readonly ttftErrorsMs: readonly number[];
  readonly tpotRelativeErrors: readonly number[];
}

export const TTFT_TOLERANCE_MS = 3;
export const TPOT_TOLERANCE = 0.02;

export function distribution(values: readonly number[], tolerance: number): ErrorDistribution {
  const sorted = Float64Array.from(values).sort();
  let within = 0;
  for (const value of sorted) if (value <= tolerance) within++;
  return {
    count: sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p95: percentileOfSorted(sorted, 95),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    tolerance,
    withinShare: sorted.length === 0 ? Number.NaN : within / sorted.length,
  };
}

/** Compares every sample with its access line and truth record. */
export function compareAccuracy(
  samples: readonly RequestSample[],
  access: ReadonlyMap<string, AccessLine>,
  truths: ReadonlyMap<string, TruthTiming>,
): AccuracyResult {
  const ttftErrors: number[] = [];
  const ttftSigned: number[] = [];
  const tpotErrors: number[] = [];
  const problems: string[] = [];
  let mismatches = 0;
  let missing = 0;
  const problem = (text: string): void => {
    if (problems.length < 5) problems.push(text);
  };
  for (const sample of samples) {
    const line = access.get(sample.requestId);
    const truth = truths.get(sample.requestId);
    const truthTpot = truth === undefined ? null : truthTpotMs(truth);
    if (line === undefined || truth === undefined || line.ttftMs === null || line.tpotMs === null || truthTpot === null) {
      missing++;
      problem(`${sample.requestId}: ${line === undefined ? 'no access line' : truth === undefined ? 'no truth record' : 'no ttft/tpot'}`);
      continue;
    }
    if (line.outputTokens !== truth.completionTokens) {
      mismatches++;
      problem(`${sample.requestId}: output_tokens ${line.outputTokens} vs truth ${truth.completionTokens}`);
    }
    ttftErrors.push(Math.abs(line.ttftMs - sample.clientTtftMs));
    ttftSigned.push(sample.clientTtftMs - line.ttftMs);
    tpotErrors.push(Math.abs(line.tpotMs - truthTpot) / truthTpot);
  }
  return {
    requests: samples.length,
    ttftErrorMs: distribution(ttftErrors, TTFT_TOLERANCE_MS),
    tpotRelativeError: distribution(tpotErrors, TPOT_TOLERANCE),
    ttftSignedMedianMs: percentileOfSorted(Float64Array.from(ttftSigned).sort(), 50),
    tokenMismatches: mismatches,
    missing,
    firstProblems: problems,
    ttftErrorsMs: ttftErrors,
    tpotRelativeErrors: tpotErrors,
  };
}
