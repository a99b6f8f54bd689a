import { describe, expect, it } from 'vitest';
import { reportConfigSchema } from '../../../src/analytics/report/config.js';
import { renderReport } from '../../../src/analytics/report/render.js';
import { computeReport, type ReportSeries } from '../../../src/analytics/report/report.js';
import type { RangeSeries, StepGrid } from '../../../src/analytics/report/series.js';

/**
 * Two hours in 5-minute steps. Model m: tenant t1 sends 100 requests a step, t2 50; t1's requests
 * of 01:10–01:20 all fail (200 errors). m's TTFT: 10 streams a step under 0.5 s, those of
 * 01:40–02:00 between 1 and 5 s. Costs, tokens and a replica-priced model m2 for the ROI.
 */
const START = Date.parse('2026-11-01T00:00:00Z') / 1000;
const grid: StepGrid = { startSeconds: START, stepSeconds: 300, steps: 24 };

/** A counter whose step k gains increment(k), as Prometheus's range query returns it. */
function counter(labels: Record<string, string>, increment: (step: number) => number): RangeSeries {
  const points: Array<[number, number]> = [[START, 1000]];
  for (let step = 0; step < grid.steps; step++) points.push([START + (step + 1) * 300, points.at(-1)![1] + increment(step)]);
  return { labels, points };
}

const outage = (step: number) => step === 14 || step === 15;
const slow = (step: number) => step >= 20;
const histogram = (labels: Record<string, string>, bounds: Record<string, (step: number) => number>) =>
  Object.entries(bounds).map(([le, increment]) => counter({ ...labels, le }, increment));

const series: ReportSeries = {
  requests: [
    counter({ model: 'm', tenant: 't1', status_class: '2xx', instance: 'g1' }, (step) => (outage(step) ? 0 : 100)),
    counter({ model: 'm', tenant: 't1', status_class: '5xx', instance: 'g1' }, (step) => (outage(step) ? 100 : 0)),
    counter({ model: 'm', tenant: 't2', status_class: '2xx', instance: 'g1' }, () => 50),
  ],
  histograms: {
    ttft: histogram({ model: 'm', instance: 'g1' }, {
      '0.25': () => 0,
      '0.5': (step) => (slow(step) ? 0 : 10),
      '1.0': (step) => (slow(step) ? 0 : 10),
      '5': () => 10,
      '+Inf': () => 10,
    }),
    latency: [],
  },
  tokens: [
    counter({ model: 'm', replica: 'r1', tenant: 't1', kind: 'input' }, () => 100),
    counter({ model: 'm', replica: 'r1', tenant: 't1', kind: 'cached_input' }, () => 40),
    counter({ model: 'm', replica: 'r1', tenant: 't1', kind: 'output' }, () => 10),
    counter({ model: 'm2', replica: 'r2', tenant: 't2', kind: 'cached_input' }, () => 100),
  ],
  costMicros: [counter({ model: 'm', tenant: 't1' }, () => 1000), counter({ model: 'm', tenant: 't2' }, () => 500)],
};

const report = computeReport({
  grid,
  report: reportConfigSchema.parse({
    objectives: [
      { sli: 'availability', objective: 0.99, window: 'hourly' },
      { sli: 'ttft', quantile: 0.95, thresholdSeconds: 1, window: 'hourly' },
    ],
    prefillTokensPerSecond: 1200,
  }),
  cost: { currency: 'EUR', tokenPrices: { m: { input: 1, cachedInput: 0.25, output: 2 } }, replicaHourly: { r2: 3.6 } },
  series,
});

describe('computeReport', () => {
  it('judges availability per hour, per model and per tenant, with its budget and the outage as the worst period', () => {
    const [availability] = report.objectives;
    expect(availability!.met).toBe(false);
    const fleet = availability!.scopes[0]!;
    expect(fleet.scope).toEqual({ kind: 'all', name: 'all' });
    expect(fleet.windows.map((window) => [window.start, window.events, window.bad, window.figure, window.met])).toEqual([
      ['2026-11-01T00:00:00.000Z', 1800, 0, 1, true],
      ['2026-11-01T01:00:00.000Z', 1800, 200, 1 - 200 / 1800, false],
    ]);
    expect(fleet.figure).toBe(1 - 200 / 3600);
    expect(fleet.budget.used).toBe(200);
    expect(fleet.budget.allowed).toBeCloseTo(36, 9);
    expect(fleet.budget.left).toBeCloseTo(-164, 9);
    expect(fleet.worstPeriods).toEqual([
      { start: '2026-11-01T01:10:00.000Z', end: '2026-11-01T01:20:00.000Z', events: 300, bad: 200, figure: 1 - 200 / 300, met: false },
    ]);
    expect(availability!.scopes.map((scope) => [scope.scope.kind, scope.scope.name, scope.figure, scope.met])).toEqual([
      ['all', 'all', 1 - 200 / 3600, false],
      ['model', 'm', 1 - 200 / 3600, false],
      ['tenant', 't1', 1 - 200 / 2400, false],
      ['tenant', 't2', 1, true],
    ]);
  });

  it('judges the TTFT percentile from the summed buckets ("1.0" and "1" are one bucket)', () => {
    const ttft = report.objectives[1]!;
    const fleet = ttft.scopes[0]!;
    expect(fleet.windows.map((window) => [window.figure, window.met])).toEqual([
      [0.25 + 0.25 * (114 / 120), true],
      [1 + 4 * ((0.95 * 120 - 80) / 40), false],
    ]);
    expect(fleet.budget.used).toBe(40);
    expect(fleet.worstPeriods.map((period) => [period.start, period.end, period.figure])).toEqual([
      ['2026-11-01T01:40:00.000Z', '2026-11-01T02:00:00.000Z', 1 + 4 * 0.95],
    ]);
    expect(ttft.scopes.map((scope) => scope.scope.name)).toEqual(['all', 'm']);
  });

  it('totals cost per tenant and model, cost per 1k tokens and the prefix-cache saving on both pricing models', () => {
    expect(report.cost.currency).toBe('EUR');
    expect(report.cost.byTenant.map((row) => [row.name, row.cost, row.costPer1kTokens])).toEqual([
      ['t1', '0.024', '0.009090909'],
      ['t2', '0.012', null],
    ]);
    expect(report.cost.byModel.map((row) => [row.name, row.cost, row.inputTokens, row.cachedInputTokens, row.outputTokens])).toEqual([
      ['m', '0.036', 2400, 960, 240],
      ['m2', '0', 0, 2400, 0],
    ]);
    expect(report.cost.total.cost).toBe('0.036');
    expect(report.prefixCacheRoi.byModel).toEqual([
      { model: 'm', cachedInputTokens: 960, inputTokens: 2400, cachedShare: 0.4, basis: 'tokens', saved: '0.00072', costWithoutCache: '0.03672', prefillSecondsSaved: null },
      { model: 'm2', cachedInputTokens: 2400, inputTokens: 0, cachedShare: null, basis: 'replica_time', saved: '0.002', costWithoutCache: '0.002', prefillSecondsSaved: 2 },
    ]);
  });

  it('renders the same figures as Markdown and as a self-contained HTML page', () => {
    const markdown = renderReport(report, 'md');
    expect(markdown).toContain('| availability ≥ 99 % hourly | MISSED | 94.4444 % | 88.8889 % (2026-11-01T01:00:00Z – 2026-11-01T02:00:00Z) | 555.56 % | -164 |');
    expect(markdown).toContain('| t1 | 0.024 | 2400 | 960 | 240 | 0.009090909 |');
    const html = renderReport(report, 'html');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/(src|href)=/);
    expect(JSON.parse(renderReport(report, 'json'))).toEqual(JSON.parse(JSON.stringify(report)));
  });
});
