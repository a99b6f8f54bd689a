import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { reportConfigSchema } from '../analytics/report/config.js';
import { PrometheusError } from '../analytics/prometheus-api.js';
import { prometheusRangeQuery } from '../analytics/report/prometheus-client.js';
import { parseDurationSeconds } from '../analytics/capacity/prometheus-source.js';
import { fetchReportSeries } from '../analytics/report/queries.js';
import { REPORT_FORMATS, renderReport, type ReportFormat } from '../analytics/report/render.js';
import { computeReport, type SlaReport } from '../analytics/report/report.js';
import { gatewayWindowReport } from '../analytics/report/gateway-window.js';
import { metricsAuthorization, metricsTarget, TOKEN_VARIABLE, TopUsageError, USER_VARIABLE } from './top/options.js';
import { readSnapshot } from './top/read.js';
import type { StepGrid } from '../analytics/report/series.js';
import { loadConfig } from '../config/load.js';
import type { TollboothConfig } from '../config/schema.js';

export const REPORT_USAGE = `usage: tollbooth report --from TIME --to TIME --prometheus URL [options]
       tollbooth report --gateway URL [--token TOKEN | --user USER:PASSWORD] [options]

  Judges the SLA objectives (analytics.report.objectives; the reference's by default) over the range
  from the gateways' history in Prometheus, with cost per tenant and model and the prefix-cache ROI.
  With --gateway, over one gateway's last window instead (its GET /api/v1/metrics): objectives whose
  window is longer than metrics.windowMs are reported as not judged (not enough history).

  --from, --to TIME   RFC 3339 (2026-11-01T00:00:00Z) or Unix seconds; widened to whole steps
  --prometheus URL    Prometheus's base URL, e.g. http://127.0.0.1:9090
  --gateway URL       a gateway's admin listener (or its API port when the metrics endpoints have
                      credentials), as for tollbooth top
  --token TOKEN       the metrics bearer token (metrics.bearerToken); env ${TOKEN_VARIABLE}
  --user USER:PASSWORD  the metrics basic auth (metrics.basicAuth); env ${USER_VARIABLE}
  --config FILE       the gateway's configuration (objectives, cost.currency and prices);
                      default $TOLLBOOTH_CONFIG, else the default objectives without prices
  --format md|json|html  default md; html is one self-contained page with charts
  --out FILE          write there instead of stdout
  --step DURATION     evaluation step (must divide an hour), default 5m    [--prometheus]
  --timeout DURATION  per Prometheus or gateway request, default 30s
`;

class UsageError extends Error {}
/** The gateway could not be read (exit status 1, as for Prometheus). */
class SourceError extends Error {}

const OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  prometheus: { type: 'string' },
  gateway: { type: 'string' },
  token: { type: 'string' },
  user: { type: 'string' },
  config: { type: 'string', short: 'c' },
  format: { type: 'string', default: 'md' },
  out: { type: 'string', short: 'o' },
  step: { type: 'string' },
  timeout: { type: 'string', default: '30s' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseDuration(flag: string, text: string): number {
  try {
    return parseDurationSeconds(text);
  } catch (error) {
    throw new UsageError(`--${flag}: ${(error as Error).message}`);
  }
}

function parseTime(flag: string, text: string | undefined): number {
  if (text === undefined) throw new UsageError(`--${flag} is required`);
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Date.parse(text) / 1000;
  if (!Number.isFinite(seconds)) throw new UsageError(`--${flag} ${text}: use RFC 3339 (2026-11-01T00:00:00Z) or Unix seconds`);
  return seconds;
}

/** The evaluation grid: the range widened to whole steps, so windows of an hour and longer start on a step. */
export function reportGrid(fromSeconds: number, toSeconds: number, stepSeconds: number): StepGrid {
  if (3600 % stepSeconds !== 0) throw new UsageError(`--step ${stepSeconds}s must divide an hour, so hourly windows start on a step`);
  const start = Math.floor(fromSeconds / stepSeconds) * stepSeconds;
  const end = Math.ceil(toSeconds / stepSeconds) * stepSeconds;
  if (end <= start) throw new UsageError('--to must be later than --from');
  return { startSeconds: start, stepSeconds, steps: (end - start) / stepSeconds };
}

const NO_PRICES: TollboothConfig['cost'] = { currency: 'USD', tokenPrices: {}, replicaHourly: {} };

/** The gateway's last window as the report; a gateway that cannot be read is a SourceError. */
async function gatewayReport(
  values: { gateway: string; token?: string; user?: string },
  timeoutMs: number,
  config: TollboothConfig | undefined,
): Promise<SlaReport> {
  let target;
  let authorization;
  try {
    target = metricsTarget(values.gateway);
    authorization = metricsAuthorization(values, process.env, target.user);
  } catch (error) {
    if (!(error instanceof TopUsageError)) throw error;
    throw new UsageError(error.message.replace(/^--url: /, '--gateway: '));
  }
  const read = await readSnapshot(target.endpoint, authorization, timeoutMs);
  if (read.problem !== undefined) throw new SourceError(`${target.displayUrl}: ${read.problem}`);
  return gatewayWindowReport({
    snapshot: read.snapshot,
    url: target.displayUrl,
    report: config?.analytics.report ?? reportConfigSchema.parse({}),
    cost: config?.cost ?? { ...NO_PRICES, currency: read.snapshot.cost.currency },
  });
}

/** Runs `tollbooth report …`; resolves with the exit status (2: bad flags, 1: Prometheus or the gateway failed). */
export async function runReportCommand(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  try {
    let values;
    try {
      ({ values } = parseArgs({ args, options: OPTIONS, strict: true }));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (values.help === true) {
      out.write(REPORT_USAGE);
      return 0;
    }
    if ((values.prometheus === undefined) === (values.gateway === undefined)) throw new UsageError('give exactly one of --prometheus and --gateway');
    if (!(REPORT_FORMATS as readonly string[]).includes(values.format)) throw new UsageError(`--format ${values.format}: use md, json or html`);
    const timeoutMs = parseDuration('timeout', values.timeout) * 1000;
    const configFile = values.config ?? process.env.TOLLBOOTH_CONFIG;
    const config = configFile === undefined ? undefined : loadConfig({ file: configFile });
    let report: SlaReport;
    if (values.gateway !== undefined) {
      for (const flag of ['from', 'to', 'step'] as const) {
        if (values[flag] !== undefined) throw new UsageError(`--${flag} applies to --prometheus; --gateway reports the gateway's last window`);
      }
      report = await gatewayReport({ ...values, gateway: values.gateway }, timeoutMs, config);
    } else {
      if (values.token !== undefined || values.user !== undefined) throw new UsageError('--token and --user apply to --gateway');
      const grid = reportGrid(parseTime('from', values.from), parseTime('to', values.to), parseDuration('step', values.step ?? '5m'));
      const cost = config?.cost ?? NO_PRICES;
      const queryRange = prometheusRangeQuery({ baseUrl: values.prometheus!, timeoutMs });
      const series = await fetchReportSeries(queryRange, grid, cost.currency);
      if (series.requests.length === 0) {
        err.write(`warning: Prometheus at ${values.prometheus} has no tollbooth_requests_total in the range: is it scraping the gateways' admin listeners?\n`);
      }
      report = computeReport({ grid, report: config?.analytics.report ?? reportConfigSchema.parse({}), cost, series });
    }
    const text = renderReport(report, values.format as ReportFormat);
    if (values.out === undefined) out.write(text);
    else writeFileSync(values.out, text);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`${error.message}\n\n${REPORT_USAGE}`);
      return 2;
    }
    if (error instanceof PrometheusError || error instanceof SourceError) {
      err.write(`tollbooth report: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
