import type { AlertCondition } from '../../alerts/engine.js';
import type { AlertRule } from '../../alerts/config.js';
import type { AnomalyConfig } from './config.js';
import type { AnomalyMonitor, Finding, Incident } from './monitor.js';
import { ANOMALY_SIGNALS, type AnomalySignal } from './signals.js';

/** One finding in GET /api/v1/anomalies: units as named in `unit`, times as ISO strings. */
export interface FindingJson {
  readonly id: string;
  readonly signal: AnomalySignal;
  readonly scope: 'model' | 'replica';
  readonly name: string;
  readonly direction: 'up' | 'down';
  readonly severity: 'info' | 'warning';
  readonly unit: Finding['unit'];
  readonly value: number;
  readonly baseline: number;
  readonly change: number;
  /** value / baseline; null when the baseline is 0. */
  readonly ratio: number | null;
  readonly sigma: number;
  readonly peak_sigma: number;
  readonly since: string;
  readonly last_out_of_band: string;
  readonly resolved_at: string | null;
  readonly seasonal_baseline: boolean;
  /** The incident it belongs to (active findings only). */
  readonly incident: string | null;
  /** The other findings of its incident: they started within the correlation window and share a scope or a model. */
  readonly related: ReadonlyArray<{ readonly id: string; readonly signal: AnomalySignal; readonly scope: 'model' | 'replica'; readonly name: string; readonly since: string }>;
}

export interface AnomaliesApiResponse {
  readonly generated_at: string;
  readonly detector: AnomalyConfig['detector'];
  readonly slot_seconds: number;
  readonly threshold_sigma: number;
  readonly correlation_window_seconds: number;
  /** End of the last slot judged; null before the first. */
  readonly judged_until: string | null;
  readonly tracked: { readonly series: number; readonly scopes_dropped: number };
  readonly active_count: number;
  readonly active: readonly FindingJson[];
  readonly incidents: ReadonlyArray<{ readonly id: string; readonly since: string; readonly severity: 'info' | 'warning'; readonly findings: readonly string[] }>;
  /** Resolved findings, newest first (at most analytics.anomaly.recentFindings). */
  readonly recent: readonly FindingJson[];
}

/** The JSON of GET /api/v1/anomalies from the monitor's state. */
export function anomaliesReport(
  monitor: AnomalyMonitor,
  settings: Pick<AnomalyConfig, 'detector' | 'thresholdSigma' | 'correlationWindowMs'>,
  slotMs: number,
  nowMs: number,
): AnomaliesApiResponse {
  const incidents = monitor.incidents();
  const incidentOf = new Map<string, Incident>();
  for (const incident of incidents) for (const finding of incident.findings) incidentOf.set(finding.id, incident);
  const lastSlotEnd = monitor.lastSlotEnd;
  const active = monitor.active();
  return {
    generated_at: new Date(nowMs).toISOString(),
    detector: settings.detector,
    slot_seconds: slotMs / 1000,
    threshold_sigma: settings.thresholdSigma,
    correlation_window_seconds: settings.correlationWindowMs / 1000,
    judged_until: lastSlotEnd === undefined ? null : new Date(lastSlotEnd).toISOString(),
    tracked: { series: monitor.trackCount, scopes_dropped: monitor.scopesDropped },
    active_count: active.length,
    active: active.map((finding) => findingJson(finding, incidentOf.get(finding.id))),
    incidents: incidents.map((incident) => ({
      id: incident.id,
      since: new Date(incident.sinceMs).toISOString(),
      severity: incident.severity,
      findings: incident.findings.map((finding) => finding.id),
    })),
    recent: monitor.recent().map((finding) => findingJson(finding, undefined)),
  };
}

function findingJson(finding: Finding, incident: Incident | undefined): FindingJson {
  return {
    id: finding.id,
    signal: finding.signal,
    scope: finding.scope,
    name: finding.name,
    direction: finding.direction,
    severity: finding.severity,
    unit: finding.unit,
    value: significant(finding.value),
    baseline: significant(finding.baseline),
    change: significant(finding.change),
    ratio: finding.baseline === 0 ? null : significant(finding.value / finding.baseline),
    sigma: round2(finding.sigma),
    peak_sigma: round2(finding.peakSigma),
    since: new Date(finding.sinceMs).toISOString(),
    last_out_of_band: new Date(finding.lastOutOfBandMs).toISOString(),
    resolved_at: finding.resolvedAtMs === undefined ? null : new Date(finding.resolvedAtMs).toISOString(),
    seasonal_baseline: finding.seasonal,
    incident: incident?.id ?? null,
    related: (incident?.findings ?? [])
      .filter((other) => other.id !== finding.id)
      .map((other) => ({ id: other.id, signal: other.signal, scope: other.scope, name: other.name, since: new Date(other.sinceMs).toISOString() })),
  };
}

/** Six significant digits: latencies in seconds keep their microseconds, rates stay readable. */
function significant(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(6)) : 0;
}

function round2(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : 0;
}

const SIGNAL_WORDS: Record<AnomalySignal, string> = {
  ttft_p95: 'TTFT p95',
  tpot: 'Time per output token',
  error_rate: 'Error rate',
  decode_tokens_per_second: 'Decode tokens/s',
  engine_queue: 'Engine queue',
  request_rate: 'Request rate',
};

/** The alert name of a signal's findings: TtftP95Anomaly, EngineQueueAnomaly… */
export function anomalyAlertName(signal: AnomalySignal): string {
  return `${signal.split('_').map((word) => word[0]!.toUpperCase() + word.slice(1)).join('')}Anomaly`;
}

/** Every alert name the findings can raise (for documentation and tests). */
export const ANOMALY_ALERT_NAMES = ANOMALY_SIGNALS.map(anomalyAlertName);

/**
 * The active findings as conditions for the built-in alerts (src/alerts/engine.ts): one alert per
 * signal and model or replica, firing at once (the detector already waited confirmSlots), its
 * value the finding's |σ|, severity warning when the signal moved the way that hurts, else info.
 */
export function anomalyAlertConditions(monitor: AnomalyMonitor, thresholdSigma: number): AlertCondition[] {
  return monitor.active().map((finding) => {
    const ratio = finding.baseline === 0 ? '' : ` (${significant(finding.value / finding.baseline)}× its baseline ${significant(finding.baseline)})`;
    const rule: AlertRule = {
      name: anomalyAlertName(finding.signal),
      // Not a path of /api/v1/metrics as a rule's figure is: it names the finding's σ, which the
      // alert's value carries (the finding itself is in GET /api/v1/anomalies).
      figure: `anomalies.${finding.signal}.sigma`,
      comparison: '>',
      threshold: thresholdSigma,
      forMs: 0,
      severity: finding.severity,
      scope: finding.scope,
      summary: `${SIGNAL_WORDS[finding.signal]} moved ${finding.direction} to ${significant(finding.value)} ${finding.unit}${ratio} since ${new Date(finding.sinceMs).toISOString()}, |σ|`,
    };
    return { rule, scopeName: finding.name, value: round2(Math.abs(finding.sigma)) };
  });
}
