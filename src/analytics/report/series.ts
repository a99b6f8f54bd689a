/**
 * Counters read from Prometheus as range series, turned into what happened in each evaluation
 * step, and the steps grouped into calendar windows. Pure: the report is computed from these.
 */

/** One series of a range query: its labels and `[unix seconds, value]` points. */
export interface RangeSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

/**
 * The query grid: points at `startSeconds + i × stepSeconds` for i = 0…steps. Step k (0-based)
 * is the interval (t_k, t_k+1]: what a counter gained between two points.
 */
export interface StepGrid {
  readonly startSeconds: number;
  readonly stepSeconds: number;
  readonly steps: number;
}

export function gridPoint(grid: StepGrid, index: number): number {
  return grid.startSeconds + index * grid.stepSeconds;
}

/**
 * What a counter gained in each step. A value lower than the last one seen is a reset (the
 * process restarted): the new value is all it gained. A series that first appears after the
 * grid's first point was created after it (prom-client creates a labelled series on its first
 * increment), so its first value counts in full. A gap keeps the last value seen, so a series
 * that was missing from a few points loses nothing.
 */
export function stepIncrements(series: RangeSeries, grid: StepGrid): number[] {
  const increments = new Array<number>(grid.steps).fill(0);
  let last: number | undefined;
  for (const [seconds, value] of series.points) {
    const index = Math.round((seconds - grid.startSeconds) / grid.stepSeconds);
    if (index < 0 || index > grid.steps || !Number.isFinite(value)) continue;
    if (index > 0) increments[index - 1]! += last === undefined || value < last ? value : value - last;
    last = value;
  }
  return increments;
}

/** The steps' increments of every series, summed per key; series whose key is undefined are left out. */
export function sumIncrements(
  series: readonly RangeSeries[],
  grid: StepGrid,
  keyOf: (labels: Readonly<Record<string, string>>) => string | undefined,
): Map<string, number[]> {
  const sums = new Map<string, number[]>();
  for (const one of series) {
    const key = keyOf(one.labels);
    if (key === undefined) continue;
    const increments = stepIncrements(one, grid);
    const sum = sums.get(key);
    if (sum === undefined) sums.set(key, increments);
    else for (let k = 0; k < increments.length; k++) sum[k]! += increments[k]!;
  }
  return sums;
}

export type CalendarWindow = 'hourly' | 'daily' | 'monthly';

/** A calendar window (UTC) clipped to the grid, and the steps [firstStep, endStep) it holds. */
export interface WindowSpan {
  readonly startSeconds: number;
  readonly endSeconds: number;
  /** The window is cut by the report's range: it does not cover its whole hour, day or month. */
  readonly partial: boolean;
  readonly firstStep: number;
  readonly endStep: number;
}

function calendarBounds(seconds: number, window: CalendarWindow): [number, number] {
  if (window === 'hourly') {
    const start = Math.floor(seconds / 3600) * 3600;
    return [start, start + 3600];
  }
  if (window === 'daily') {
    const start = Math.floor(seconds / 86_400) * 86_400;
    return [start, start + 86_400];
  }
  const date = new Date(seconds * 1000);
  return [Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / 1000, Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / 1000];
}

/** The windows of the grid: a step belongs to the window its start lies in. */
export function windowSpans(grid: StepGrid, window: CalendarWindow): WindowSpan[] {
  const spans: WindowSpan[] = [];
  const gridEnd = gridPoint(grid, grid.steps);
  let step = 0;
  while (step < grid.steps) {
    const [start, end] = calendarBounds(gridPoint(grid, step), window);
    let endStep = step + 1;
    while (endStep < grid.steps && gridPoint(grid, endStep) < end) endStep++;
    const clippedStart = Math.max(start, grid.startSeconds);
    const clippedEnd = Math.min(end, gridEnd);
    spans.push({ startSeconds: clippedStart, endSeconds: clippedEnd, partial: clippedStart !== start || clippedEnd !== end, firstStep: step, endStep });
    step = endStep;
  }
  return spans;
}

export function sumSteps(values: readonly number[], firstStep: number, endStep: number): number {
  let sum = 0;
  for (let k = firstStep; k < endStep; k++) sum += values[k] ?? 0;
  return sum;
}
