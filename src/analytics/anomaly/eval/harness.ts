import { createPrng } from '../../../sim/prng.js';
import { anomalyConfigSchema } from '../config.js';
import { DETECTOR_KINDS, type DetectorKind } from '../detectors.js';
import { AnomalyMonitor, type MonitorSettings, type SlotObservation } from '../monitor.js';
import { ANOMALY_SIGNALS, type AnomalySignal } from '../signals.js';
import { DAY_MS, type Degradation, DIURNAL, HEALTHY, type Load, SlotWorkload, STATIONARY } from './workload.js';

/**
 * The detector evaluation behind `npm run eval:anomaly`: labelled series (workload.ts) through the
 * gateway's own AnomalyMonitor, one run per detector on identical series. Reproducible: every
 * series comes from a seed derived from the run's seed.
 */
export interface EvaluationOptions {
  readonly seed: number;
  /** Trials per shift scenario. */
  readonly trials: number;
  /** Simulated days per false-alarm run. */
  readonly days: number;
  readonly slotMs: number;
  /** Overrides of the analytics.anomaly defaults (thresholds, windows…). */
  readonly settings: Partial<MonitorSettings>;
}

export interface DetectionRow {
  readonly scenario: string;
  readonly detector: DetectorKind;
  readonly trials: number;
  /** Share of trials with a finding on the target within the horizon, 0–1. */
  readonly detectionRate: number;
  /** From the shift to the end of the slot that confirmed the finding, seconds; null when nothing was found. */
  readonly medianDelaySeconds: number | null;
  readonly p95DelaySeconds: number | null;
  /** Findings before the shift (false alarms during the trials' hour of normal traffic), per trial. */
  readonly findingsBeforeShiftPerTrial: number;
  /** Findings on scopes that stayed healthy (the bad-replica scenario's other replicas), per trial. */
  readonly healthyScopeFindingsPerTrial: number;
}

export interface FalseAlarmRow {
  readonly load: 'stationary' | 'diurnal';
  readonly detector: DetectorKind;
  readonly seasonal: boolean;
  readonly days: number;
  /** Findings per simulated day, per signal. */
  readonly perDay: Record<AnomalySignal, number>;
}

export interface EvaluationReport {
  readonly options: EvaluationOptions;
  readonly settings: Omit<MonitorSettings, 'detector'>;
  readonly detection: DetectionRow[];
  readonly falseAlarms: FalseAlarmRow[];
}

interface Scenario {
  readonly name: string;
  readonly degradation: (shiftAtMs: number) => Degradation;
  readonly horizonMs: number;
  readonly targets: readonly AnomalySignal[];
  /** Healthy replicas beside the one that degrades (0: the target is alone). */
  readonly healthyReplicas: number;
}

const MINUTE = 60_000;

function ttftStep(factor: number): Scenario {
  return {
    name: `TTFT p95 step ×${factor}`,
    degradation: (shiftAtMs) => ({ ttftFactor: (atMs) => (atMs >= shiftAtMs ? factor : 1), queueFactor: () => 1 }),
    horizonMs: 10 * MINUTE,
    targets: ['ttft_p95'],
    healthyReplicas: 0,
  };
}

export const SCENARIOS: readonly Scenario[] = [
  ttftStep(1.5),
  ttftStep(2),
  ttftStep(5),
  {
    name: 'TTFT drift to ×2 over 30 min',
    degradation: (shiftAtMs) => ({ ttftFactor: (atMs) => 1 + Math.min(1, Math.max(0, (atMs - shiftAtMs) / (30 * MINUTE))), queueFactor: () => 1 }),
    horizonMs: 60 * MINUTE,
    targets: ['ttft_p95'],
    healthyReplicas: 0,
  },
  {
    name: 'TTFT spike ×5 for 30 s',
    degradation: (shiftAtMs) => ({ ttftFactor: (atMs) => (atMs >= shiftAtMs && atMs < shiftAtMs + 30_000 ? 5 : 1), queueFactor: () => 1 }),
    horizonMs: 5 * MINUTE,
    targets: ['ttft_p95'],
    healthyReplicas: 0,
  },
  {
    name: '1 of 4 replicas bad (TTFT ×2, queue ×10)',
    degradation: (shiftAtMs) => ({ ttftFactor: (atMs) => (atMs >= shiftAtMs ? 2 : 1), queueFactor: (atMs) => (atMs >= shiftAtMs ? 10 : 1) }),
    horizonMs: 10 * MINUTE,
    targets: ['ttft_p95', 'engine_queue'],
    healthyReplicas: 3,
  },
];

/** Normal traffic before each trial's shift: an hour, so the detectors are warm and judging. */
const TRIAL_LEAD_MS = 3_600_000;

export function evaluate(options: EvaluationOptions): EvaluationReport {
  const base = { ...anomalyConfigSchema.parse({}), ...options.settings };
  const { enabled: _enabled, sampleIntervalMs: _interval, detector: _detector, ...settings } = base;
  const settingsFor = (detector: DetectorKind, seasonal: boolean): MonitorSettings => ({
    ...settings,
    detector,
    seasonal: { ...settings.seasonal, enabled: seasonal },
  });
  const detection = SCENARIOS.flatMap((scenario, index) => detectionRows(scenario, options, options.seed * 1_000 + index, settingsFor));
  const falseAlarms: FalseAlarmRow[] = [];
  for (const [loadName, load] of [['stationary', STATIONARY], ['diurnal', DIURNAL]] as const) {
    falseAlarms.push(...falseAlarmRows(loadName, load, options, settingsFor));
  }
  return { options, settings, detection, falseAlarms };
}

function detectionRows(
  scenario: Scenario,
  options: EvaluationOptions,
  seed: number,
  settingsFor: (detector: DetectorKind, seasonal: boolean) => MonitorSettings,
): DetectionRow[] {
  const prng = createPrng(seed);
  const { slotMs } = options;
  const delays = new Map<DetectorKind, number[]>(DETECTOR_KINDS.map((kind) => [kind, []]));
  const before = new Map<DetectorKind, number>(DETECTOR_KINDS.map((kind) => [kind, 0]));
  const healthy = new Map<DetectorKind, number>(DETECTOR_KINDS.map((kind) => [kind, 0]));
  for (let trial = 0; trial < options.trials; trial++) {
    // Each trial starts at another time of day, so the shift meets every phase of the diurnal load.
    const startMs = Math.floor((prng.next() * DAY_MS) / slotMs) * slotMs;
    const shiftAtMs = startMs + TRIAL_LEAD_MS + prng.next() * slotMs;
    const endMs = shiftAtMs + scenario.horizonMs;
    const workloads = Array.from({ length: 1 + scenario.healthyReplicas }, () => new SlotWorkload(prng.int(0, 2 ** 31), DIURNAL, slotMs, settingsFor('ewma', false).minSamples));
    const degradation = scenario.degradation(shiftAtMs);
    const slots: Array<{ startMs: number; observations: SlotObservation[] }> = [];
    for (let slotStart = startMs; slotStart < endMs; slotStart += slotMs) {
      const observations: SlotObservation[] = [];
      workloads.forEach((workload, replica) => {
        const values = workload.slot(slotStart, replica === 0 ? degradation : HEALTHY);
        for (const signal of scenario.targets) {
          const value = values[signal];
          if (value !== undefined) observations.push({ scope: { kind: 'replica', name: `r${replica}` }, signal, value });
        }
      });
      slots.push({ startMs: slotStart, observations });
    }
    for (const detector of DETECTOR_KINDS) {
      // Trials are an hour long: the hour-of-day profile could never be ready, so it stays off here.
      const monitor = new AnomalyMonitor(settingsFor(detector, false), slotMs);
      let detectedAt: number | undefined;
      for (const slot of slots) {
        for (const { finding, change } of monitor.observeSlot(slot.startMs, slot.observations)) {
          if (change !== 'started') continue;
          const confirmedAtMs = slot.startMs + slotMs;
          if (finding.name !== 'r0') healthy.set(detector, healthy.get(detector)! + 1);
          else if (confirmedAtMs <= shiftAtMs) before.set(detector, before.get(detector)! + 1);
          else if (detectedAt === undefined && finding.direction === 'up') detectedAt = confirmedAtMs;
        }
      }
      if (detectedAt !== undefined) delays.get(detector)!.push((detectedAt - shiftAtMs) / 1000);
    }
  }
  return DETECTOR_KINDS.map((detector) => {
    const found = delays.get(detector)!.sort((a, b) => a - b);
    return {
      scenario: scenario.name,
      detector,
      trials: options.trials,
      detectionRate: found.length / options.trials,
      medianDelaySeconds: nearestRank(found, 0.5),
      p95DelaySeconds: nearestRank(found, 0.95),
      findingsBeforeShiftPerTrial: before.get(detector)! / options.trials,
      healthyScopeFindingsPerTrial: healthy.get(detector)! / options.trials,
    };
  });
}

function falseAlarmRows(
  loadName: 'stationary' | 'diurnal',
  load: Load,
  options: EvaluationOptions,
  settingsFor: (detector: DetectorKind, seasonal: boolean) => MonitorSettings,
): FalseAlarmRow[] {
  const { slotMs, days } = options;
  const workload = new SlotWorkload(options.seed * 7 + (loadName === 'stationary' ? 1 : 2), load, slotMs, settingsFor('ewma', false).minSamples);
  const runs = DETECTOR_KINDS.flatMap((detector) =>
    [false, true].map((seasonal) => ({ detector, seasonal, monitor: new AnomalyMonitor(settingsFor(detector, seasonal), slotMs), counts: zeroCounts() })),
  );
  const scope = { kind: 'replica', name: 'r0' } as const;
  for (let slotStart = 0; slotStart < days * DAY_MS; slotStart += slotMs) {
    const values = workload.slot(slotStart);
    const observations: SlotObservation[] = [];
    for (const signal of ANOMALY_SIGNALS) {
      const value = values[signal];
      if (value !== undefined) observations.push({ scope, signal, value });
    }
    for (const run of runs) {
      for (const { finding, change } of run.monitor.observeSlot(slotStart, observations)) if (change === 'started') run.counts[finding.signal] += 1;
    }
  }
  return runs.map(({ detector, seasonal, counts }) => ({
    load: loadName,
    detector,
    seasonal,
    days,
    perDay: Object.fromEntries(ANOMALY_SIGNALS.map((signal) => [signal, counts[signal] / days])) as Record<AnomalySignal, number>,
  }));
}

function zeroCounts(): Record<AnomalySignal, number> {
  return Object.fromEntries(ANOMALY_SIGNALS.map((signal) => [signal, 0])) as Record<AnomalySignal, number>;
}

function nearestRank(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The report as Markdown: the detection table and the false-alarm table. */
export function renderMarkdown(report: EvaluationReport): string {
  const { options } = report;
  const seconds = (value: number | null): string => (value === null ? '–' : value.toFixed(0));
  const lines = [
    `Detection: ${options.trials} trials per shift, diurnal load (mean 5 req/s per replica), ${options.slotMs / 1000} s slots, seed ${options.seed}.`,
    'Delay: from the shift to the end of the slot that confirmed the finding (the runner reads it within one sampleIntervalMs after).',
    '',
    '| shift | detector | detected | median delay (s) | p95 delay (s) | findings before the shift / trial | findings on healthy replicas / trial |',
    '|---|---|---|---|---|---|---|',
    ...report.detection.map(
      (row) =>
        `| ${row.scenario} | ${row.detector} | ${(100 * row.detectionRate).toFixed(0)} % | ${seconds(row.medianDelaySeconds)} | ${seconds(row.p95DelaySeconds)} | ${row.findingsBeforeShiftPerTrial.toFixed(2)} | ${row.healthyScopeFindingsPerTrial.toFixed(2)} |`,
    ),
    '',
    `False alarms per simulated day (${options.days} days per load, one replica's six signals):`,
    '',
    `| load | detector | hour-of-day baseline | ${ANOMALY_SIGNALS.join(' | ')} |`,
    `|---|---|---|${ANOMALY_SIGNALS.map(() => '---').join('|')}|`,
    ...report.falseAlarms.map(
      (row) => `| ${row.load} | ${row.detector} | ${row.seasonal ? 'on' : 'off'} | ${ANOMALY_SIGNALS.map((signal) => row.perDay[signal].toFixed(2)).join(' | ')} |`,
    ),
  ];
  return lines.join('\n');
}
