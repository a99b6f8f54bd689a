import type { MetricsApiResponse } from '../../telemetry/stats/snapshot.js';
import { TOKEN_VARIABLE, USER_VARIABLE } from './options.js';

export type ReadResult = { readonly snapshot: MetricsApiResponse; readonly problem?: undefined } | { readonly snapshot?: undefined; readonly problem: string };

/** One GET of the JSON; every failure becomes a short sentence for the status line, never a throw. */
export async function readSnapshot(endpoint: string, authorization: string | undefined, timeoutMs: number, stop?: AbortSignal): Promise<ReadResult> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      headers: { accept: 'application/json', ...(authorization === undefined ? {} : { authorization }) },
      signal: stop === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]),
    });
  } catch (error) {
    return { problem: transportProblem(error, timeoutMs) };
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (response.status === 401 || response.status === 403) {
    return { problem: `${response.status}: the metrics endpoints want credentials (--token or --user; ${TOKEN_VARIABLE}, ${USER_VARIABLE})` };
  }
  if (response.status !== 200) return { problem: `HTTP ${response.status} from ${endpoint}` };
  const shapeProblem = snapshotProblem(body);
  if (shapeProblem !== undefined) return { problem: `not a Tollbooth /api/v1/metrics answer (${shapeProblem})` };
  return { snapshot: body as MetricsApiResponse };
}

/** The fields the screen reads; undefined when they are all there. */
export function snapshotProblem(body: unknown): string | undefined {
  const at = (path: string): unknown =>
    path.split('.').reduce<unknown>((value, key) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined), body);
  for (const path of ['status', 'requests.running', 'requests.total', 'slo.ttft.p95', 'slo.throughput.decoding_mean', 'gpu.source', 'uptime_seconds']) {
    const value = at(path);
    if (typeof value !== 'number' && typeof value !== 'string') return `no ${path}`;
  }
  for (const path of ['replicas', 'by_replica']) {
    const value = at(path);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return `no ${path}`;
  }
  if (!Array.isArray(at('alerts'))) return 'no alerts';
  return undefined;
}

/** fetch's "fetch failed" says nothing; its cause has the system error (ECONNREFUSED 127.0.0.1:8081). */
function transportProblem(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs / 1000}s`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.message === 'string' && cause.message !== '') return cause.message;
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  return error instanceof Error ? error.message : String(error);
}
