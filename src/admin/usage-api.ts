import type { FastifyInstance } from 'fastify';
import { prometheusApi, PrometheusError, type PrometheusApi } from '../analytics/prometheus-api.js';
import type { TollboothConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { parseUsagePeriod, USAGE_PERIOD_KINDS, type UsagePeriodKind, type UsageReader } from '../ratelimit/usage-counters.js';
import { adminAuthentication } from './admin-tokens.js';
import { readPrometheusUsage } from './usage-prometheus.js';
import { counterUsageReport, USAGE_GROUPS, type UsageGroup, type UsageReport } from './usage-report.js';

export interface UsageApiDependencies {
  readonly tokens: TollboothConfig['admin']['tokens'];
  /** The rate limiter's usage counters (Redis: the shared ones); undefined without auth (no keys, no counters). */
  readonly counters: UsageReader | undefined;
  /** admin.prometheusUrl; undefined when not configured. */
  readonly prometheusUrl: string | undefined;
  readonly currency: string;
  readonly now?: () => number;
}

export interface UsageQuery {
  readonly source?: string;
  readonly period?: string;
  readonly date?: string;
  readonly group?: string;
  readonly from?: string;
  readonly to?: string;
}

/**
 * GET /api/v1/usage (admin API, documented in openapi.ts): usage and spend per key or tenant for
 * a UTC day or month from the stores' counters, or per tenant and model over any range from
 * Prometheus (source=prometheus).
 */
export function registerUsageApi(app: FastifyInstance, dependencies: UsageApiDependencies): void {
  const now = dependencies.now ?? Date.now;
  const { prometheusUrl } = dependencies;
  const sources: UsageSources = {
    counters: dependencies.counters,
    prometheus: prometheusUrl === undefined ? undefined : prometheusApi({ baseUrl: prometheusUrl, timeoutMs: PROMETHEUS_TIMEOUT_MS }),
    currency: dependencies.currency,
  };
  app.register(async (usageApi) => {
    usageApi.addHook('onRequest', adminAuthentication(dependencies.tokens));
    usageApi.get<{ Querystring: UsageQuery }>('/api/v1/usage', async (request) => usageReport(request.query, sources, now()));
  });
}

/** Per query to Prometheus: an admin call waits at most this long for its answer. */
const PROMETHEUS_TIMEOUT_MS = 30_000;

interface UsageSources {
  readonly counters: UsageReader | undefined;
  readonly prometheus: PrometheusApi | undefined;
  readonly currency: string;
}

async function usageReport(query: UsageQuery, dependencies: UsageSources, nowMs: number): Promise<UsageReport> {
  const source = oneOf(query.source, ['counters', 'prometheus'] as const, 'source') ?? 'counters';
  if (source === 'prometheus') {
    for (const name of ['period', 'date'] as const) if (query[name] !== undefined) throw invalid(`${name} applies to source=counters; source=prometheus takes from and to`, name);
    if ((oneOf(query.group, USAGE_GROUPS, 'group') ?? 'tenant') !== 'tenant') throw invalid('source=prometheus reports tenants only: metrics never name keys', 'group');
    if (dependencies.prometheus === undefined) throw new GatewayError('usage_source_not_configured', 'source=prometheus needs admin.prometheusUrl (a Prometheus that scrapes the gateways).', 'source');
    const toMs = query.to === undefined ? nowMs : instant(query.to, 'to');
    const fromMs = instant(required(query.from, 'from'), 'from');
    if (!(fromMs < toMs)) throw invalid('from must be before to', 'from');
    try {
      const data = await readPrometheusUsage(dependencies.prometheus, { fromMs, toMs }, dependencies.currency);
      return { object: 'usage', source, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), group: 'tenant', currency: dependencies.currency, data };
    } catch (error) {
      if (error instanceof PrometheusError) throw new GatewayError('usage_source_unavailable', error.message, null, { cause: error });
      throw error;
    }
  }
  for (const name of ['from', 'to'] as const) if (query[name] !== undefined) throw invalid(`${name} applies to source=prometheus; the counters take period and date`, name);
  const kind: UsagePeriodKind = oneOf(query.period, USAGE_PERIOD_KINDS, 'period') ?? 'day';
  const group: UsageGroup = oneOf(query.group, USAGE_GROUPS, 'group') ?? 'key';
  const period = parseUsagePeriod(kind, query.date, nowMs);
  if (typeof period === 'string') throw invalid(period, 'date');
  if (dependencies.counters === undefined) throw new GatewayError('usage_source_not_configured', 'Usage counters are kept per API key: turn auth on to count them.', 'source');
  const rows = await dependencies.counters.readUsage(period).catch((error: unknown) => {
    throw new GatewayError('usage_source_unavailable', `The usage counters cannot be read: ${(error as Error).message}`, null, { cause: error });
  });
  if (rows === undefined) throw new GatewayError('usage_source_unavailable', 'The usage counters are in Redis, which cannot be read right now; retry shortly.');
  return counterUsageReport(period, group, rows, dependencies.currency);
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], name: string): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw invalid(`${name} must be one of ${allowed.join(', ')}, got "${value}"`, name);
}

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw invalid(`${name} is required with source=prometheus`, name);
  return value;
}

/** An RFC 3339 timestamp or Unix seconds, as Prometheus's own API takes them. */
function instant(value: string, name: string): number {
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw invalid(`${name} must be an RFC 3339 timestamp or Unix seconds, got "${value}"`, name);
  return ms;
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_usage_query', `The usage query is not valid: ${message}.`, param);
}
