/**
 * How `tollbooth top` writes numbers: short, with the unit, and "–" for a figure that is missing
 * (a field an older gateway does not send) or measured over nothing.
 */

export const MISSING = '–';

function usable(value: number | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** 1,234,567 (grouped the same whatever the locale). */
export function formatCount(value: number | undefined): string {
  return usable(value) ? Math.round(value).toLocaleString('en-US') : MISSING;
}

/** A duration given in seconds: 0.4ms, 4.2ms, 123ms, 1.23s, 12.3s, 123s. */
export function formatSeconds(value: number | undefined): string {
  if (!usable(value)) return MISSING;
  const ms = value * 1000;
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 999.5) return `${Math.round(ms)}ms`;
  if (value < 9.995) return `${value.toFixed(2)}s`;
  if (value < 99.95) return `${value.toFixed(1)}s`;
  return `${formatCount(value)}s`;
}

/** A rate: one decimal below 100 (45.6), whole and grouped above (1,234). */
export function formatRate(value: number | undefined): string {
  if (!usable(value)) return MISSING;
  return Math.abs(value) < 99.95 ? value.toFixed(1) : formatCount(value);
}

/** 99.9%, 100%. */
export function formatPercent(value: number | undefined): string {
  if (!usable(value)) return MISSING;
  return value >= 99.95 && value < 100 ? '99.9%' : value === 100 ? '100%' : `${value.toFixed(1)}%`;
}

/** Gigabytes with one decimal. */
export function formatGb(value: number | undefined): string {
  return usable(value) ? value.toFixed(1) : MISSING;
}

/** An age in whole units: 42s, 3m05s, 1h02m, 2d03h. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const two = (n: number): string => String(n).padStart(2, '0');
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${two(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d${two(Math.floor(seconds / 3600) % 24)}h`;
}
