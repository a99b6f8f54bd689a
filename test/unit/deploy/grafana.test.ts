import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_MONITORING_CONFIG } from '../../../src/monitoring/config.js';
import { DASHBOARDS_DIR, dashboards } from '../../../src/monitoring/dashboards.js';
import { GRAFANA_DASHBOARDS_PATH, GRAFANA_DASHBOARDS_PROVIDER_FILE, GRAFANA_DATASOURCES_FILE } from '../../../src/monitoring/grafana-provisioning.js';
import { recordingRuleGroups } from '../../../src/monitoring/rules.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';
import { dashboardPanels, type DashboardJson } from '../../helpers/grafana-dashboards.js';

/**
 * The committed dashboards and provisioning, read as Grafana reads them (the JSON and YAML files;
 * monitoring.test.ts proves they are what the generator writes). What Prometheus answers to every
 * panel is proven in test/integration/monitoring/dashboards-prometheus.test.ts.
 */

const ROOT = join(import.meta.dirname, '../../..');

async function committedDashboards(): Promise<Map<string, DashboardJson>> {
  const names = (await readdir(join(ROOT, DASHBOARDS_DIR))).filter((name) => name.endsWith('.json'));
  return new Map(await Promise.all(names.map(async (name) => [name, JSON.parse(await readFile(join(ROOT, DASHBOARDS_DIR, name), 'utf8')) as DashboardJson] as const)));
}

describe('the Grafana dashboards', () => {
  it('are exactly the generated ones: no dashboard left behind by a rename', async () => {
    expect([...(await committedDashboards()).keys()].sort()).toEqual([...dashboards(DEFAULT_MONITORING_CONFIG).keys()].sort());
  });

  it('are Overview, Fleet, Tenants & cost and Gateway, each with the datasource, model and replica variables', async () => {
    const all = [...(await committedDashboards()).values()];
    expect(all.map((dashboard) => dashboard.title).sort()).toEqual(['Tollbooth / Fleet', 'Tollbooth / Gateway', 'Tollbooth / Overview', 'Tollbooth / Tenants & cost']);
    expect(new Set(all.map((dashboard) => dashboard.uid)).size).toBe(all.length);
    for (const dashboard of all) {
      expect(dashboard.templating.list.map((variable) => variable.name), dashboard.title).toEqual(['datasource', 'model', 'replica']);
      expect(dashboard.templating.list[0]).toMatchObject({ type: 'datasource', query: 'prometheus' });
    }
  });

  it('give every panel a unit, the datasource variable and unique ids; every target a refId', async () => {
    for (const dashboard of (await committedDashboards()).values()) {
      const panels = dashboardPanels(dashboard);
      expect(new Set(panels.map((panel) => panel.id)).size, dashboard.title).toBe(panels.length);
      for (const panel of panels) {
        expect(['s', 'reqps', 'percentunit', 'short', 'bytes', `currency${DEFAULT_MONITORING_CONFIG.costCurrency}`], panel.title).toContain(panel.fieldConfig.defaults.unit);
        expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(panel.targets.length, panel.title).toBeGreaterThan(0);
        expect(new Set(panel.targets.map((target) => target.refId)).size, panel.title).toBe(panel.targets.length);
      }
    }
  });

  it("use $__rate_interval in every rate() and increase(), and turn exemplars on wherever a histogram's buckets are read", async () => {
    let histogramTargets = 0;
    for (const dashboard of (await committedDashboards()).values()) {
      for (const panel of dashboardPanels(dashboard)) {
        for (const target of panel.targets) {
          const windows = [...target.expr.matchAll(/\b(?:rate|increase)\([^[]*\[([^\]]+)\]\)/g)].map((match) => match[1]);
          const calls = [...target.expr.matchAll(/\b(?:rate|increase)\(/g)].length;
          expect(windows, `${panel.title}: ${target.expr}`).toHaveLength(calls);
          for (const window of windows) expect(window, panel.title).toBe('$__rate_interval');
          if (/_bucket\b/.test(target.expr)) {
            histogramTargets += 1;
            expect(target.exemplar, `${panel.title}: ${target.expr}`).toBe(true);
          }
        }
      }
    }
    expect(histogramTargets).toBeGreaterThan(10);
  });

  it('read only metrics the gateway exports and series the rules record', async () => {
    const registry = new Registry();
    createInstruments(registry, { replicas: () => [] }, '0.0.0');
    const exported = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const recorded = new Set(recordingRuleGroups(DEFAULT_MONITORING_CONFIG).flatMap((group) => group.rules.map((rule) => rule.record)));
    const exprs = [...(await committedDashboards()).values()].flatMap((dashboard) => dashboardPanels(dashboard).flatMap((panel) => panel.targets.map((target) => target.expr)));
    const records = new Set(exprs.flatMap((expr) => [...expr.matchAll(/\b([a-z_]+:tollbooth_[a-z0-9_]+:[a-z0-9_]+)\b/g)].map((match) => match[1]!)));
    const raw = new Set(exprs.flatMap((expr) => [...expr.matchAll(/(?<![:\w])(tollbooth_\w+)/g)].map((match) => match[1]!)));
    expect(records.size).toBeGreaterThan(5);
    for (const name of records) expect(recorded, name).toContain(name);
    for (const name of raw) expect(exported, name).toContain(name.replace(/_(bucket|count|sum)$/, ''));
  });

  it('leave GPU memory out until its metric exists (a comment in dashboards.ts says why)', async () => {
    const source = await readFile(join(ROOT, 'src/monitoring/dashboards.ts'), 'utf8');
    expect(source).toMatch(/GPU memory is left out/);
  });
});

describe('the Grafana provisioning', () => {
  it('maps the Prometheus exemplar label trace_id to the Jaeger data source', async () => {
    const file = parse(await readFile(join(ROOT, GRAFANA_DATASOURCES_FILE), 'utf8')) as {
      apiVersion: number;
      datasources: Array<{ type: string; uid: string; url: string; jsonData?: { exemplarTraceIdDestinations?: unknown } }>;
    };
    expect(file.apiVersion).toBe(1);
    const prometheus = file.datasources.find((source) => source.type === 'prometheus');
    const jaeger = file.datasources.find((source) => source.type === 'jaeger');
    expect(prometheus?.jsonData?.exemplarTraceIdDestinations).toEqual([{ name: 'trace_id', datasourceUid: 'jaeger' }]);
    expect(jaeger?.uid).toBe('jaeger');
    expect(prometheus?.url).toMatch(/^http:\/\//);
    expect(jaeger?.url).toMatch(/^http:\/\//);
  });

  it('loads the dashboards folder with a file provider', async () => {
    const file = parse(await readFile(join(ROOT, GRAFANA_DASHBOARDS_PROVIDER_FILE), 'utf8')) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(file.apiVersion).toBe(1);
    expect(file.providers).toHaveLength(1);
    expect(file.providers[0]).toMatchObject({ type: 'file', options: { path: GRAFANA_DASHBOARDS_PATH } });
  });
});
