import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEFAULT_OBJECTIVES } from '../../../src/analytics/report/config.js';
import type { SlaReport } from '../../../src/analytics/report/report.js';
import type { ObjectiveResult, ScopeResult } from '../../../src/analytics/report/sla.js';
import { runCli } from '../../helpers/cli.js';
import { runPromtool } from '../../helpers/promtool.js';
import { startPrometheusWithConfig, type PrometheusServer } from '../telemetry/prometheus-server.js';
import { backfillOpenMetrics, DAY_SECONDS, incidentsFrom, MICROS_PER_REQUEST, RATES, STEP_SECONDS, STEPS, TOKENS } from './report-backfill.js';

/**
 * `tollbooth report` (the built CLI) against a real Prometheus (Debian's) whose TSDB holds three
 * days of a gateway's counters backfilled with `promtool tsdb create-blocks-from openmetrics`,
 * with known incidents (report-backfill.ts): model-a fails every request from 10:00 to 10:30 on
 * the second day, its streams are slow from 14:00 to 15:00 on the third, and the gateway restarts
 * at noon on the first. The report's availability, error rates and percentiles must be exactly the
 * ones these counts give, its periods exactly the incidents' steps.
 */

// Whole days, ending a day before today: backfilled blocks must be older than Prometheus's head.
const DAY0 = Math.floor(Date.now() / 1000 / DAY_SECONDS) * DAY_SECONDS - 4 * DAY_SECONDS;
const INCIDENTS = incidentsFrom(DAY0);
const STEPS_PER_DAY = DAY_SECONDS / STEP_SECONDS;
const OUTAGE_STEPS = (INCIDENTS.outage.to - INCIDENTS.outage.from) / STEP_SECONDS;
const SLOW_STEPS = (INCIDENTS.slow.to - INCIDENTS.slow.from) / STEP_SECONDS;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

const A = RATES['model-a'].acme + RATES['model-a'].globex; // model-a requests per step
const B = RATES['model-b'].acme + RATES['model-b'].globex;
const ALL = A + B;

let directory: string;
let prometheus: PrometheusServer;
let report: SlaReport;
let markdown: string;
let html: string;

async function runReport(format: string, config: string): Promise<string> {
  const out = join(directory, `report.${format}`);
  const cli = runCli([
    'report',
    '--from', iso(DAY0),
    '--to', iso(DAY0 + 3 * DAY_SECONDS),
    '--prometheus', prometheus.url,
    '--config', config,
    '--format', format,
    '--out', out,
  ]);
  const { code } = await cli.exited();
  if (code !== 0) throw new Error(`tollbooth report --format ${format} exited ${code}:\n${cli.stderr()}`);
  return readFileSync(out, 'utf8');
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'tollbooth-report-'));
  const openMetrics = join(directory, 'history.om.txt');
  writeFileSync(openMetrics, backfillOpenMetrics(DAY0, INCIDENTS));
  const tsdb = join(directory, 'tsdb');
  const backfill = await runPromtool(['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=24h', openMetrics, tsdb]);
  if (backfill.code !== 0) throw new Error(`promtool backfill failed:\n${backfill.output}`);
  prometheus = await startPrometheusWithConfig({ global: { scrape_interval: '1m' } }, {}, { tsdbPath: tsdb, retention: '30d' });
  const config = join(directory, 'tollbooth.yaml');
  writeFileSync(
    config,
    stringify({
      replicas: [{ name: 'replica-1', url: 'http://127.0.0.1:9', models: ['model-a', 'model-b'] }],
      auth: { enabled: false },
      cost: { currency: 'USD', tokenPrices: { 'model-a': { input: 1, cachedInput: 0.25, output: 2 }, 'model-b': { input: 0.5, output: 1.5 } } },
      analytics: { report: { objectives: [...DEFAULT_OBJECTIVES, { sli: 'ttft', quantile: 0.99, thresholdSeconds: 2.5, window: 'daily' }] } },
    }),
  );
  report = JSON.parse(await runReport('json', config)) as SlaReport;
  markdown = await runReport('md', config);
  html = await runReport('html', config);
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

function objective(title: string): ObjectiveResult {
  const found = report.objectives.find((result) => result.title === title);
  if (found === undefined) throw new Error(`no objective "${title}" in ${report.objectives.map((result) => result.title).join(', ')}`);
  return found;
}

function scope(result: ObjectiveResult, kind: string, name: string): ScopeResult {
  return result.scopes.find((one) => one.scope.kind === kind && one.scope.name === name)!;
}

describe('tollbooth report against a backfilled Prometheus', () => {
  it('covers the range in whole 5-minute steps', () => {
    expect([report.from, report.to, report.stepSeconds]).toEqual([iso(DAY0), iso(DAY0 + 3 * DAY_SECONDS), STEP_SECONDS]);
  });

  it('finds the outage: availability per model and tenant, the error budget, and the outage as the worst period', () => {
    const availability = objective('availability ≥ 99.9 % monthly');
    expect(availability.met).toBe(false);
    const fleet = scope(availability, 'all', 'all');
    const errors = OUTAGE_STEPS * A;
    // Every request of model-a (not model "none": Prometheus's scrapes) over three days, across the restart.
    expect(fleet.figure).toBe(1 - errors / (STEPS * ALL));
    expect(fleet.budget.used).toBe(errors);
    expect(fleet.budget.allowed).toBeCloseTo(0.001 * STEPS * ALL, 6);
    expect(fleet.budget.left).toBeCloseTo(0.001 * STEPS * ALL - errors, 6);
    expect(fleet.worstPeriods[0]).toEqual({
      start: iso(INCIDENTS.outage.from),
      end: iso(INCIDENTS.outage.to),
      events: OUTAGE_STEPS * ALL,
      bad: errors,
      figure: 1 - errors / (OUTAGE_STEPS * ALL),
      met: false,
    });
    expect(fleet.worstPeriods).toHaveLength(1);
    expect(scope(availability, 'model', 'model-a').figure).toBe(1 - errors / (STEPS * A));
    expect(scope(availability, 'model', 'model-b')).toMatchObject({ figure: 1, met: true });
    const acme = RATES['model-a'].acme + RATES['model-b'].acme;
    expect(scope(availability, 'tenant', 'acme').figure).toBe(1 - (OUTAGE_STEPS * RATES['model-a'].acme) / (STEPS * acme));
  });

  it('misses the hourly error rate in exactly the outage hour', () => {
    const errorRate = objective('error rate < 0.1 % hourly');
    const fleet = scope(errorRate, 'all', 'all');
    expect(fleet.windows).toHaveLength(72);
    const missed = fleet.windows.filter((window) => window.met === false);
    expect(missed).toEqual([
      { start: iso(INCIDENTS.outage.from), end: iso(INCIDENTS.outage.from + 3600), partial: false, events: 12 * ALL, bad: OUTAGE_STEPS * A, figure: (OUTAGE_STEPS * A) / (12 * ALL), met: false },
    ]);
    expect(fleet.windows.filter((window) => window.met === true)).toHaveLength(71);
    expect(scope(errorRate, 'model', 'model-b').met).toBe(true);
  });

  it('computes the daily percentiles of the slow day from the injected buckets, and the slow hour as the worst period', () => {
    // Day 3: model-a's 12 slow steps put A × 12 observations in the 10–15 s end-to-end bucket; all
    // others are at most 1 s. p99's rank falls in that bucket: linear interpolation, as Prometheus.
    const perDay = STEPS_PER_DAY * ALL;
    const slow = SLOW_STEPS * A;
    const rank = 0.99 * perDay;
    const latencyP99 = objective('response time p99 ≤ 10 s daily');
    const day3 = scope(latencyP99, 'all', 'all').windows[2]!;
    expect(day3).toMatchObject({ start: iso(DAY0 + 2 * DAY_SECONDS), events: perDay, bad: slow, figure: 10 + (15 - 10) * ((rank - (perDay - slow)) / slow), met: false });
    expect(scope(latencyP99, 'all', 'all').windows.slice(0, 2).map((window) => window.met)).toEqual([true, true]);
    expect(latencyP99.met).toBe(false);

    const ttftP99 = objective('TTFT p99 ≤ 2.5 s daily');
    const ttftDay3 = scope(ttftP99, 'all', 'all').windows[2]!;
    expect(ttftDay3.figure).toBe(2.5 + (5 - 2.5) * ((rank - (perDay - slow)) / slow));
    expect(ttftDay3.met).toBe(false);
    expect(scope(ttftP99, 'all', 'all').worstPeriods.map((period) => [period.start, period.end, period.bad])).toEqual([
      [iso(INCIDENTS.slow.from), iso(INCIDENTS.slow.to), slow],
    ]);
    // Day 1, no incident: model-b's 0.2 s streams sit under 0.25 s, model-a's 0.4 s ones in 0.25–0.5 s.
    const belowQuarter = STEPS_PER_DAY * B;
    expect(scope(ttftP99, 'all', 'all').windows[0]!.figure).toBe(0.25 + (0.5 - 0.25) * ((0.99 * perDay - belowQuarter) / (STEPS_PER_DAY * A)));

    // 3.1 % of day 3's streams were slow: TTFT p95 ≤ 1 s (the mixin's SLO) holds, and p50 ≤ 1 s of the response time too.
    expect(objective('TTFT p95 ≤ 1 s daily').met).toBe(true);
    expect(objective('response time p50 ≤ 1 s daily').met).toBe(true);
  });

  it('reports cost per tenant and model and the prefix-cache saving from the token prices', () => {
    const okRequests = (model: 'model-a' | 'model-b', tenant: 'acme' | 'globex') => (STEPS - (model === 'model-a' ? OUTAGE_STEPS : 0)) * RATES[model][tenant];
    const tenantMicros = (tenant: 'acme' | 'globex') => okRequests('model-a', tenant) * MICROS_PER_REQUEST['model-a'] + okRequests('model-b', tenant) * MICROS_PER_REQUEST['model-b'];
    expect(report.cost.byTenant.map((row) => [row.name, row.cost])).toEqual([
      ['acme', String(tenantMicros('acme') / 1e6)],
      ['globex', String(tenantMicros('globex') / 1e6)],
    ]);
    const modelAOk = okRequests('model-a', 'acme') + okRequests('model-a', 'globex');
    expect(report.cost.byModel[0]).toMatchObject({ name: 'model-a', cost: String((modelAOk * MICROS_PER_REQUEST['model-a']) / 1e6), cachedInputTokens: modelAOk * TOKENS['model-a'].cachedInput });
    const acmeTokens = okRequests('model-a', 'acme') * (TOKENS['model-a'].input + TOKENS['model-a'].output) + okRequests('model-b', 'acme') * (TOKENS['model-b'].input + TOKENS['model-b'].output);
    expect(Number(report.cost.byTenant[0]!.costPer1kTokens)).toBeCloseTo((tenantMicros('acme') / 1e6 / acmeTokens) * 1000, 9);
    // Each cached token of model-a saved 1 − 0.25 per million.
    const saved = (modelAOk * TOKENS['model-a'].cachedInput * 0.75) / 1e6;
    expect(report.prefixCacheRoi.byModel[0]).toMatchObject({ model: 'model-a', basis: 'tokens', saved: String(saved), cachedShare: 0.4 });
  });

  it('writes the same figures as Markdown and as a self-contained HTML page with a chart per objective', () => {
    expect(markdown).toContain(`| error rate < 0.1 % hourly | MISSED |`);
    expect(markdown).toContain(`${iso(INCIDENTS.outage.from).replace('.000Z', 'Z')} – ${iso(INCIDENTS.outage.to).replace('.000Z', 'Z')}: 25 %`);
    expect(html.match(/<svg /g)).toHaveLength(report.objectives.length);
    expect(html).not.toMatch(/\b(src|href)=|<script|@import|url\(/);
  });
});
