/**
 * A gateway's own TTFT figure from its Prometheus exposition: the `_sum` and `_count` of one
 * histogram, added over all its series (labels), read before and after a scenario; their
 * differences give the mean TTFT the gateway recorded over that scenario.
 */

export interface HistogramTotals {
  readonly sum: number;
  readonly count: number;
}

/** `<metric>_sum` and `<metric>_count` over every label set (`_created` and `_bucket` lines are not read). */
export function histogramTotals(exposition: string, metric: string): HistogramTotals {
  let sum = 0;
  let count = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const match = /^(\w+?)(_sum|_count)(?:\{.*\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== metric) continue;
    const value = Number(match[3]);
    if (match[2] === '_sum') sum += value;
    else count += value;
  }
  return { sum, count };
}

/** Mean in ms of what was observed between two readings; NaN when nothing was. */
export function meanMsBetween(before: HistogramTotals, after: HistogramTotals): number {
  const count = after.count - before.count;
  return count > 0 ? ((after.sum - before.sum) / count) * 1000 : Number.NaN;
}
