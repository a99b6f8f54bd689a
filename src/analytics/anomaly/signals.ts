import type { Aggregate } from '../../telemetry/stats/aggregate.js';

/** The series watched per model and per replica, one value per closed statistics slot. */
export const ANOMALY_SIGNALS = ['ttft_p95', 'tpot', 'error_rate', 'decode_tokens_per_second', 'engine_queue', 'request_rate'] as const;
export type AnomalySignal = (typeof ANOMALY_SIGNALS)[number];

export interface SignalSpec {
  readonly unit: 'seconds' | 'seconds_per_token' | 'ratio' | 'tokens_per_second' | 'requests' | 'requests_per_second';
  /** Which way is a degradation: a finding that way is a warning, the other way (or demand) is info. */
  readonly worse: 'up' | 'down' | 'neither';
  /**
   * Into the space the detectors judge: logarithms for latencies and rates (a 2× step is the same
   * distance at any level, and the slots' heavy-tailed noise becomes nearly symmetric), the ratio
   * itself for the error rate.
   */
  readonly transform: (value: number) => number;
  readonly inverse: (value: number) => number;
  /**
   * The smallest noise scale a detector uses, in the transformed space: a series that is nearly
   * constant (an idle replica's zero queue, a perfectly steady simulator) must not make every small
   * wobble a many-σ event. 0.05 in log space is 5 %.
   */
  readonly scaleFloor: number;
}

/** Latencies are positive; a floor keeps log() finite should a slot's figure be 0. */
const logOf = (floor: number) => (value: number) => Math.log(Math.max(value, floor));
const log1p = (value: number) => Math.log1p(Math.max(0, value));

export const SIGNAL_SPECS: Readonly<Record<AnomalySignal, SignalSpec>> = {
  ttft_p95: { unit: 'seconds', worse: 'up', transform: logOf(1e-4), inverse: Math.exp, scaleFloor: 0.05 },
  tpot: { unit: 'seconds_per_token', worse: 'up', transform: logOf(1e-5), inverse: Math.exp, scaleFloor: 0.05 },
  error_rate: { unit: 'ratio', worse: 'up', transform: (value) => value, inverse: (value) => value, scaleFloor: 0.02 },
  decode_tokens_per_second: { unit: 'tokens_per_second', worse: 'down', transform: log1p, inverse: Math.expm1, scaleFloor: 0.1 },
  engine_queue: { unit: 'requests', worse: 'up', transform: log1p, inverse: Math.expm1, scaleFloor: 0.25 },
  request_rate: { unit: 'requests_per_second', worse: 'neither', transform: log1p, inverse: Math.expm1, scaleFloor: 0.1 },
};

/**
 * The request signals of one slot of one scope, from the aggregate the statistics already keep
 * (nothing is recorded for the detectors). Percentile and ratio signals need `minSamples`
 * requests in the slot, else they are absent for that slot (a p95 of three requests is noise);
 * rates are always present (0 for an idle slot). The engine queue comes from the fleet, not here.
 */
export function slotSignals(aggregate: Aggregate | undefined, slotMs: number, minSamples: number): Partial<Record<AnomalySignal, number>> {
  const seconds = slotMs / 1000;
  if (aggregate === undefined) return { request_rate: 0, decode_tokens_per_second: 0 };
  const signals: Partial<Record<AnomalySignal, number>> = {
    request_rate: aggregate.total / seconds,
    decode_tokens_per_second: aggregate.outputTokens / seconds,
  };
  if (aggregate.ttft.count >= minSamples) signals.ttft_p95 = aggregate.ttft.percentile(0.95)! / 1000;
  // The median of 1/x is 1/median(x): the median time per output token from the decode speeds.
  const medianSpeed = aggregate.decode.count >= minSamples ? aggregate.decode.percentile(0.5) : null;
  if (medianSpeed !== null && medianSpeed > 0) signals.tpot = 1 / medianSpeed;
  if (aggregate.total >= minSamples) signals.error_rate = aggregate.failed / aggregate.total;
  return signals;
}
