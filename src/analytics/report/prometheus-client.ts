import type { RangeSeries, StepGrid } from './series.js';

/**
 * Prometheus's HTTP API, as the report needs it: range queries over a grid, split into requests
 * of at most MAX_POINTS points (Prometheus refuses more than 11,000 per series), each with a
 * timeout, and errors that say which server and which query failed.
 */

export class PrometheusError extends Error {}

const MAX_POINTS = 10_000;

export interface PrometheusClientOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
}

interface MatrixResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

export function prometheusRangeQuery(options: PrometheusClientOptions) {
  const endpoint = new URL('api/v1/query_range', options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);

  async function queryChunk(query: string, startSeconds: number, endSeconds: number, stepSeconds: number): Promise<MatrixResponse['data'] & object> {
    const body = new URLSearchParams({ query, start: String(startSeconds), end: String(endSeconds), step: String(stepSeconds), timeout: `${Math.ceil(options.timeoutMs / 1000)}s` });
    let response: Response;
    try {
      response = await fetch(endpoint, { method: 'POST', body, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : describe(error);
      throw new PrometheusError(`cannot query Prometheus at ${options.baseUrl}: ${reason}`);
    }
    const text = await response.text();
    let parsed: MatrixResponse;
    try {
      parsed = JSON.parse(text) as MatrixResponse;
    } catch {
      throw new PrometheusError(`${endpoint.href} answered ${response.status} with something other than Prometheus's JSON: ${text.slice(0, 200)}`);
    }
    if (parsed.status !== 'success' || parsed.data === undefined) {
      throw new PrometheusError(`Prometheus at ${options.baseUrl} refused the query (${parsed.errorType ?? response.status}: ${parsed.error ?? 'no error message'}): ${query}`);
    }
    if (parsed.data.resultType !== 'matrix') throw new PrometheusError(`Prometheus answered a ${parsed.data.resultType}, not a matrix, for ${query}`);
    return parsed.data;
  }

  return async (query: string, grid: StepGrid): Promise<RangeSeries[]> => {
    const byLabels = new Map<string, { labels: Record<string, string>; points: Array<[number, number]> }>();
    for (let first = 0; first <= grid.steps; first += MAX_POINTS) {
      const last = Math.min(grid.steps, first + MAX_POINTS - 1);
      const data = await queryChunk(query, grid.startSeconds + first * grid.stepSeconds, grid.startSeconds + last * grid.stepSeconds, grid.stepSeconds);
      for (const { metric, values } of data.result) {
        const key = JSON.stringify(Object.entries(metric).sort(([a], [b]) => a.localeCompare(b)));
        let series = byLabels.get(key);
        if (series === undefined) byLabels.set(key, (series = { labels: metric, points: [] }));
        for (const [seconds, value] of values) series.points.push([seconds, Number(value)]);
      }
    }
    return [...byLabels.values()];
  };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
