/**
 * Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`) for the analytics that read
 * history from it (capacity/, report/): POST (long queries fit), a timeout per request, and errors
 * that name the server, the query and what went wrong.
 */

export class PrometheusError extends Error {}

export interface PrometheusApiOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
}

export type PrometheusApi = <T>(endpoint: 'query' | 'query_range', parameters: Record<string, string>, resultType: 'vector' | 'matrix') => Promise<T>;

export function prometheusApi(options: PrometheusApiOptions): PrometheusApi {
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  return async <T>(endpoint: string, parameters: Record<string, string>, resultType: string): Promise<T> => {
    const url = new URL(`api/v1/${endpoint}`, base);
    // Prometheus's own limit, so a slow query ends there with its error rather than only here.
    const body = new URLSearchParams({ ...parameters, timeout: `${Math.ceil(options.timeoutMs / 1000)}s` });
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : describe(error);
      throw new PrometheusError(`cannot query Prometheus at ${options.baseUrl}: ${reason}`);
    }
    const text = await response.text();
    let parsed: { status?: string; errorType?: string; error?: string; data?: { resultType: string; result: T } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new PrometheusError(`${url.href} answered ${response.status} with something other than Prometheus's JSON: ${text.slice(0, 200)}`);
    }
    if (parsed.status !== 'success' || parsed.data === undefined) {
      throw new PrometheusError(`Prometheus at ${options.baseUrl} refused the query (${parsed.errorType ?? response.status}: ${parsed.error ?? 'no error message'}): ${parameters.query ?? ''}`);
    }
    if (parsed.data.resultType !== resultType) throw new PrometheusError(`Prometheus answered a ${parsed.data.resultType}, not a ${resultType}, for ${parameters.query ?? ''}`);
    return parsed.data.result;
  };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
