import { parseArgs } from 'node:util';
import type { CapacityReport, CapacitySettings } from '../analytics/capacity/capacity-report.js';
import { buildCapacityReport } from '../analytics/capacity/capacity-report.js';
import { capacityConfigSchema, type CapacityConfig } from '../analytics/capacity/config.js';
import { parseDurationSeconds, prometheusCapacityInputs } from '../analytics/capacity/prometheus-source.js';
import { formatCapacityTables } from '../analytics/capacity/table.js';
import { loadConfig } from '../config/load.js';

export const CAPACITY_USAGE = `usage: tollbooth capacity (--gateway URL | --prometheus URL) [options]

Per model: arrival rate, service time, utilisation, the queueing model's wait and TTFT at today's
load, the replicas a target needs, the headroom, and when the demand forecast breaks the target.

  --gateway URL       the admin listener of a gateway (GET URL/api/v1/capacity)
  --token TOKEN       bearer token for the gateway's metrics (metrics.bearerToken)
  --prometheus URL    a Prometheus that scrapes Tollbooth (its HTTP API, the recording rules of
                      deploy/prometheus/): the history and figures come from there
  --config FILE       the Tollbooth config whose analytics.capacity (target, max_num_seqs per
                      model) applies to --prometheus; defaults otherwise
  --range DURATION    history for the forecast (default 7d)       [--prometheus]
  --step DURATION     its resolution (default 5m)                  [--prometheus]
  --window DURATION   the span today's figures are averaged over (default 15m) [--prometheus]
  --json              print the JSON instead of the tables
`;

/** `tollbooth capacity`; resolves with the exit code. */
export async function runCapacityCommand(args: readonly string[], write: (text: string) => void = (text) => process.stdout.write(text)): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      gateway: { type: 'string' },
      token: { type: 'string' },
      prometheus: { type: 'string' },
      config: { type: 'string', short: 'c' },
      range: { type: 'string', default: '7d' },
      step: { type: 'string', default: '5m' },
      window: { type: 'string', default: '15m' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    write(CAPACITY_USAGE);
    return 0;
  }
  if ((values.gateway === undefined) === (values.prometheus === undefined)) {
    process.stderr.write(`give exactly one of --gateway and --prometheus\n\n${CAPACITY_USAGE}`);
    return 2;
  }
  const report =
    values.gateway !== undefined
      ? await fromGateway(values.gateway, values.token)
      : await fromPrometheus(values.prometheus!, {
          config: values.config === undefined ? capacityConfigSchema.parse({}) : loadConfig({ file: values.config, env: process.env }).analytics.capacity,
          rangeSeconds: parseDurationSeconds(values.range),
          stepSeconds: parseDurationSeconds(values.step),
          windowSeconds: parseDurationSeconds(values.window),
        });
  write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatCapacityTables(report));
  return 0;
}

async function fromGateway(url: string, token: string | undefined): Promise<CapacityReport> {
  const response = await fetch(new URL('/api/v1/capacity', url), { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}/api/v1/capacity answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as CapacityReport;
}

async function fromPrometheus(
  url: string,
  options: { config: CapacityConfig; rangeSeconds: number; stepSeconds: number; windowSeconds: number },
): Promise<CapacityReport> {
  const nowMs = Date.now();
  const inputs = await prometheusCapacityInputs(url, { ...options, endSeconds: nowMs / 1000 });
  const settings: CapacitySettings = {
    target: options.config.target,
    forecastHorizonSeconds: options.config.forecastHorizonSeconds,
    seasonSeconds: options.config.seasonSeconds,
  };
  return buildCapacityReport('prometheus', nowMs, settings, inputs);
}
