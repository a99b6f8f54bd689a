import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_MONITORING_CONFIG } from '../../../src/monitoring/config.js';
import { renderMonitoringFiles } from '../../../src/cli/generate-monitoring.js';
import { alertRuleGroups, isAlertRule, recordingRuleGroups, ruleGroups } from '../../../src/monitoring/rules.js';
import { PROMETHEUS_FILE, RULES_FILE } from '../../../src/monitoring/scrape-config.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';
import { runPromtool } from '../../helpers/promtool.js';

const ROOT = join(import.meta.dirname, '../../..');
const RULE_TESTS_DIR = 'deploy/prometheus/tests';
const RUNBOOK = 'deploy/prometheus/RUNBOOK.md';

const rules = ruleGroups(DEFAULT_MONITORING_CONFIG).flatMap((group) => group.rules);
const alerts = alertRuleGroups(DEFAULT_MONITORING_CONFIG).flatMap((group) => group.rules);
const records = recordingRuleGroups(DEFAULT_MONITORING_CONFIG).flatMap((group) => group.rules);

interface RuleTestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[]; promql_expr_test?: { expr: string; exp_samples: { labels: string }[] }[] }[];
}

async function ruleTestFiles(): Promise<string[]> {
  return (await readdir(join(ROOT, RULE_TESTS_DIR))).filter((name) => name.endsWith('.yaml')).map((name) => join(RULE_TESTS_DIR, name));
}

async function ruleTests(): Promise<RuleTestFile['tests']> {
  const files = await Promise.all((await ruleTestFiles()).map(async (file) => parse(await readFile(join(ROOT, file), 'utf8')) as RuleTestFile));
  return files.flatMap((file) => file.tests);
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function githubAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

describe('the monitoring mixin', () => {
  it('matches the committed files (run npm run generate:monitoring after changing src/monitoring/)', async () => {
    for (const [path, text] of renderMonitoringFiles()) {
      expect(await readFile(join(ROOT, path), 'utf8'), path).toBe(text);
    }
  });

  it('passes promtool check rules and check config', async () => {
    const checkRules = await runPromtool(['check', 'rules', RULES_FILE], ROOT);
    expect(checkRules.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(checkRules.code).toBe(0);
    const checkConfig = await runPromtool(['check', 'config', PROMETHEUS_FILE], ROOT);
    expect(checkConfig.code, checkConfig.output).toBe(0);
  });

  it('passes its promtool rule unit tests', async () => {
    const result = await runPromtool(['test', 'rules', ...(await ruleTestFiles())], ROOT);
    expect(result.output).not.toContain('FAILED');
    expect(result.code, result.output).toBe(0);
  });

  it('tests every alert firing and every recording rule', async () => {
    const tests = await ruleTests();
    const firingTested = new Set(tests.flatMap((test) => test.alert_rule_test ?? []).filter((test) => test.exp_alerts.length > 0).map((test) => test.alertname));
    const quietTested = new Set(tests.flatMap((test) => test.alert_rule_test ?? []).filter((test) => test.exp_alerts.length === 0).map((test) => test.alertname));
    for (const alert of alerts) {
      expect(firingTested, alert.alert).toContain(alert.alert);
      expect(quietTested, alert.alert).toContain(alert.alert);
    }
    const recordedSamples = new Set(
      tests.flatMap((test) => test.promql_expr_test ?? []).flatMap((test) => test.exp_samples.map((sample) => sample.labels.slice(0, sample.labels.indexOf('{')))),
    );
    for (const record of records) expect(recordedSamples, record.record).toContain(record.record);
  });

  it('reads only metrics the gateway exports', async () => {
    const registry = new Registry();
    createInstruments(registry, { replicas: () => [] }, '0.0.0');
    const exported = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const read = new Set(rules.flatMap((rule) => [...rule.expr.matchAll(/(?<![:\w])(tollbooth_\w+)/g)].map((match) => match[1] as string)));
    expect(read.size).toBeGreaterThan(10);
    for (const name of read) expect(exported, name).toContain(name.replace(/_(bucket|count|sum)$/, ''));
  });

  it('labels every alert with a severity and annotates it with a summary, a description and its runbook section', async () => {
    const runbook = await readFile(join(ROOT, RUNBOOK), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((match) => githubAnchor(match[1] as string)));
    for (const alert of alerts) {
      expect(alert.alert).toMatch(/^Tollbooth[A-Z][A-Za-z]+$/);
      expect(['critical', 'warning', 'info']).toContain(alert.labels.severity);
      expect(alert.annotations.summary.length).toBeGreaterThan(10);
      expect(alert.annotations.description.length).toBeGreaterThan(20);
      const [base, anchor] = alert.annotations.runbook_url.split('#');
      expect(base).toBe(DEFAULT_MONITORING_CONFIG.runbookBaseUrl);
      expect(anchors, alert.alert).toContain(anchor);
    }
    expect(rules.filter(isAlertRule)).toHaveLength(alerts.length);
  });

  it('names recording rules level:metric:operations', () => {
    for (const record of records) expect(record.record).toMatch(/^[a-z_]+:tollbooth_[a-z0-9_]+:[a-z0-9_]+$/);
  });

  it('refuses a TTFT objective between two bucket boundaries', () => {
    const config = { ...DEFAULT_MONITORING_CONFIG, slo: { ...DEFAULT_MONITORING_CONFIG.slo, ttft: { objective: 0.95, thresholdSeconds: 0.9 } } };
    expect(() => recordingRuleGroups(config)).toThrow(/not a TTFT bucket boundary/);
  });

  it('refuses a budget share the gateway does not count keys at', () => {
    const config = { ...DEFAULT_MONITORING_CONFIG, thresholds: { ...DEFAULT_MONITORING_CONFIG.thresholds, budgetSpentRatio: { nearlySpent: 0.75, spent: 1, for: '5m' as const } } };
    expect(() => alertRuleGroups(config)).toThrow(/budgetSpentRatio 0\.75 is not one of the shares/);
  });

  it('takes the runbook base URL and thresholds from the config', () => {
    const config = {
      ...DEFAULT_MONITORING_CONFIG,
      runbookBaseUrl: 'https://runbooks.example/tollbooth',
      thresholds: { ...DEFAULT_MONITORING_CONFIG.thresholds, engineQueueWaiting: { value: 12, for: '3m' as const } },
    };
    const queue = alertRuleGroups(config).flatMap((group) => group.rules).find((rule) => rule.alert === 'TollboothEngineQueueLong');
    expect(queue?.expr).toMatch(/\) > 12$/);
    expect(queue?.for).toBe('3m');
    expect(queue?.annotations.runbook_url).toBe('https://runbooks.example/tollbooth#tollboothenginequeuelong');
  });
});
