import { describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTIVES, reportConfigSchema } from '../../../src/analytics/report/config.js';
import { loadConfig } from '../../../src/config/load.js';
import { DEFAULT_MONITORING_CONFIG } from '../../../src/monitoring/config.js';

describe('analytics.report', () => {
  it('defaults to the reference objectives and the mixin SLOs, as the example file documents them', () => {
    expect(reportConfigSchema.parse({}).objectives).toEqual(DEFAULT_OBJECTIVES);
    expect(DEFAULT_OBJECTIVES).toContainEqual({ sli: 'availability', objective: DEFAULT_MONITORING_CONFIG.slo.availability.objective, window: 'monthly' });
    expect(DEFAULT_OBJECTIVES).toContainEqual({ sli: 'ttft', quantile: DEFAULT_MONITORING_CONFIG.slo.ttft.objective, thresholdSeconds: DEFAULT_MONITORING_CONFIG.slo.ttft.thresholdSeconds, window: 'daily' });
    expect(loadConfig({ file: 'config/tollbooth.example.yaml', env: {} }).analytics.report.objectives).toEqual(DEFAULT_OBJECTIVES);
  });

  it('refuses objectives it could not judge', () => {
    expect(reportConfigSchema.safeParse({ objectives: [{ sli: 'availability', objective: 1, window: 'monthly' }] }).success).toBe(false);
    expect(reportConfigSchema.safeParse({ objectives: [{ sli: 'ttft', quantile: 0.95, thresholdSeconds: 1, window: 'weekly' }] }).success).toBe(false);
    expect(reportConfigSchema.safeParse({ objectives: [{ sli: 'latency', quantile: 0.95, window: 'daily' }] }).success).toBe(false);
    expect(reportConfigSchema.safeParse({ objectives: [] }).success).toBe(false);
  });
});
