import { prometheusApi, type PrometheusApiOptions } from '../prometheus-api.js';
import type { RangeSeries, StepGrid } from './series.js';

/**
 * Range queries over the report's grid, split into requests of at most MAX_POINTS points
 * (Prometheus refuses more than 11,000 per series) and joined back per series.
 */

const MAX_POINTS = 10_000;

interface MatrixSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export function prometheusRangeQuery(options: PrometheusApiOptions) {
  const api = prometheusApi(options);
  return async (query: string, grid: StepGrid): Promise<RangeSeries[]> => {
    const byLabels = new Map<string, { labels: Record<string, string>; points: Array<[number, number]> }>();
    for (let first = 0; first <= grid.steps; first += MAX_POINTS) {
      const last = Math.min(grid.steps, first + MAX_POINTS - 1);
      const parameters = {
        query,
        start: String(grid.startSeconds + first * grid.stepSeconds),
        end: String(grid.startSeconds + last * grid.stepSeconds),
        step: String(grid.stepSeconds),
      };
      for (const { metric, values } of await api<MatrixSeries[]>('query_range', parameters, 'matrix')) {
        const key = JSON.stringify(Object.entries(metric).sort(([a], [b]) => a.localeCompare(b)));
        let series = byLabels.get(key);
        if (series === undefined) byLabels.set(key, (series = { labels: metric, points: [] }));
        for (const [seconds, value] of values) series.points.push([seconds, Number(value)]);
      }
    }
    return [...byLabels.values()];
  };
}
