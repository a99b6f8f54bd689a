import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MONITORING_CONFIG } from '../../../src/monitoring/config.js';
import { alertRuleGroups, type Severity } from '../../../src/monitoring/rules.js';
import { runTool } from '../../helpers/promtool.js';

const ALERTMANAGER_DIR = join(import.meta.dirname, '../../../deploy/alertmanager');
const CONFIG = 'alertmanager.yaml';

/** Where each severity must end up (the config's header says the same). */
const RECEIVER_OF: Record<Severity, string> = { critical: 'pager', warning: 'team-channel', info: 'blackhole' };

async function receiverFor(labels: Record<string, string>): Promise<string> {
  const args = ['config', 'routes', 'test', `--config.file=${CONFIG}`, ...Object.entries(labels).map(([name, value]) => `${name}=${value}`)];
  const result = await runTool('amtool', args, ALERTMANAGER_DIR);
  expect(result.code, result.output).toBe(0);
  // amtool prints the receiver names on the last line of stdout (its warnings go to stderr).
  return result.output.split('\n').filter((line) => line !== '' && !line.startsWith('Warning:')).at(-1) ?? '';
}

describe('deploy/alertmanager', () => {
  it('passes amtool check-config, templates included', async () => {
    const result = await runTool('amtool', ['check-config', CONFIG], ALERTMANAGER_DIR);
    expect(result.output).toContain('1 templates');
    expect(result.output).not.toContain('FAILED');
    expect(result.code, result.output).toBe(0);
  });

  it('routes every Tollbooth alert by its severity: critical pages, warning to the channel', async () => {
    const alerts = alertRuleGroups(DEFAULT_MONITORING_CONFIG).flatMap((group) => group.rules);
    for (const alert of alerts) {
      const labels = { alertname: alert.alert, ...alert.labels, model: 'llama-3-8b', replica: 'gpu-a' };
      expect(await receiverFor(labels), alert.alert).toBe(RECEIVER_OF[alert.labels.severity]);
    }
  });

  it('sends info alerts nowhere and anything without a severity to the channel', async () => {
    expect(await receiverFor({ alertname: 'Anything', severity: 'info' })).toBe('blackhole');
    expect(await receiverFor({ alertname: 'Anything' })).toBe('team-channel');
  });
});
