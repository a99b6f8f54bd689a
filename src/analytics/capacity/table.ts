import type { CapacityReport, ModelCapacity } from './capacity-report.js';

/**
 * The capacity report as two plain-text tables (what `tollbooth capacity` prints): what was
 * observed and estimated per model, then the prediction at today's load and the plan.
 */
export function formatCapacityTables(report: CapacityReport): string {
  const models = Object.entries(report.models);
  const target = describeTarget(report);
  if (models.length === 0) return `capacity (${report.source}, ${report.generated_at}): no model had requests in the window\ntarget: ${target}\n`;
  const observed = table(
    ['model', 'req/s', 'ca²', 'service s', 'cs²', 'prefill s', 'replicas', 'seqs/replica'],
    models.map(([name, m]) => [
      name,
      fixed(m.observed.arrival_rate, 3),
      fixed(m.observed.arrival_scv, 2) + (m.observed.arrival_scv_assumed ? '*' : ''),
      fixed(m.estimated.service_time_seconds, 3),
      fixed(m.estimated.service_scv, 2),
      // No streamed response, no TTFT: the prefill is unknown (taken as 0 in the TTFT figures).
      m.observed.ttft_mean_seconds === null ? '-' : fixed(m.estimated.prefill_seconds, 3),
      String(m.observed.replicas),
      `${m.observed.concurrency_per_replica} (${m.observed.concurrency_source})`,
    ]),
  );
  const quantile = models[0]![1].now.quantile;
  const plan = table(
    ['model', 'util', 'P(wait)', 'mean wait s', `TTFT p${Math.round(quantile * 100)} s`, 'meets', 'needed', 'max req/s', 'headroom', 'breach in'],
    models.map(([name, m]) => [
      name,
      percent(m.now.utilisation),
      percent(m.now.wait_probability),
      orDash(m.now.mean_wait_seconds, 4),
      orDash(m.now.ttft_quantile_seconds, 3),
      m.now.meets_target ? 'yes' : 'NO',
      m.required_replicas === null ? 'unreachable' : String(m.required_replicas),
      fixed(m.headroom.max_arrival_rate, 3),
      m.headroom.extra_ratio === null ? '-' : `${m.headroom.extra_ratio >= 0 ? '+' : ''}${Math.round(m.headroom.extra_ratio * 100)} %`,
      breach(m),
    ]),
  );
  return [
    `capacity (${report.source}, ${report.generated_at})`,
    `target: ${target}`,
    '',
    observed,
    '',
    plan,
    '',
    '* ca² taken as 1 (Poisson): too little history, or counts consistent with Poisson. "breach in": when the forecast demand reaches max req/s.',
    '',
  ].join('\n');
}

function breach(model: ModelCapacity): string {
  const forecast = model.forecast;
  if (forecast === null) return 'no forecast';
  if (forecast.breach_in_seconds === null) return `not within ${duration(forecast.horizon_seconds)}`;
  return forecast.breach_in_seconds === 0 ? 'now' : duration(forecast.breach_in_seconds);
}

function describeTarget(report: CapacityReport): string {
  const parts: string[] = [];
  const target = report.target;
  if (target.wait_probability !== null) parts.push(`P(wait) ≤ ${Math.round(target.wait_probability * 1000) / 10} %`);
  if (target.mean_wait_seconds !== null) parts.push(`mean wait ≤ ${target.mean_wait_seconds} s`);
  if (target.ttft_seconds !== null) parts.push(`TTFT p${Math.round((target.ttft_quantile ?? 0.95) * 100)} ≤ ${target.ttft_seconds} s`);
  return parts.length === 0 ? 'a stable queue' : parts.join(', ');
}

/** A duration in the largest fitting unit: 45 s, 12 min, 5.5 h, 3.2 d. */
export function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} d`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}

function orDash(value: number | null, digits: number): string {
  return value === null ? '∞' : value.toFixed(digits);
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}
