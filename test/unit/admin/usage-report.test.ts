import { describe, expect, it } from 'vitest';
import { prometheusUsageQueries, prometheusUsageRows } from '../../../src/admin/usage-prometheus.js';
import { counterUsageReport } from '../../../src/admin/usage-report.js';

const counts = (requests: number, costNanos: bigint) => ({ requests, inputTokens: 10 * requests, cachedInputTokens: requests, outputTokens: 2 * requests, costNanos });

describe('the usage report', () => {
  const rows = [
    { keyId: 'b', tenant: 'acme', ...counts(2, 1_500_000_000n) },
    { keyId: 'a', tenant: 'acme', ...counts(1, 1n) },
    { keyId: 'c', tenant: 'globex', ...counts(3, 0n) },
  ];

  it('lists keys by id with exact costs', () => {
    const report = counterUsageReport({ kind: 'day', index: 20_000 }, 'key', rows, 'EUR');
    expect(report).toMatchObject({ period: 'day', date: '2024-10-04', starts_at: '2024-10-04T00:00:00.000Z', ends_at: '2024-10-05T00:00:00.000Z', currency: 'EUR' });
    expect(report.data).toEqual([
      { key_id: 'a', tenant: 'acme', requests: 1, input_tokens: 10, cached_input_tokens: 1, output_tokens: 2, cost: '0.000000001' },
      { key_id: 'b', tenant: 'acme', requests: 2, input_tokens: 20, cached_input_tokens: 2, output_tokens: 4, cost: '1.5' },
      { key_id: 'c', tenant: 'globex', requests: 3, input_tokens: 30, cached_input_tokens: 3, output_tokens: 6, cost: '0' },
    ]);
  });

  it('adds up keys per tenant', () => {
    expect(counterUsageReport({ kind: 'month', index: 2024 * 12 }, 'tenant', rows, 'USD').data).toEqual([
      { tenant: 'acme', keys: 2, requests: 3, input_tokens: 30, cached_input_tokens: 3, output_tokens: 6, cost: '1.500000001' },
      { tenant: 'globex', keys: 1, requests: 3, input_tokens: 30, cached_input_tokens: 3, output_tokens: 6, cost: '0' },
    ]);
  });

  it('turns Prometheus increases into rows per tenant and model, rounded to whole counts and micro-units', () => {
    const sample = (metric: Record<string, string>, value: string) => ({ metric, value: [0, value] as [number, string] });
    const data = prometheusUsageRows({
      requests: [sample({ tenant: 'other', model: 'm' }, '4.6'), sample({ tenant: 'acme', model: 'm' }, '2')],
      tokens: [sample({ tenant: 'acme', model: 'm', kind: 'input' }, '20.2'), sample({ tenant: 'acme', model: 'm', kind: 'cached_input' }, '3'), sample({ tenant: 'acme', model: 'm', kind: 'output' }, '8')],
      costMicros: [sample({ tenant: 'acme', model: 'm' }, '1234.4'), sample({ tenant: 'other', model: 'm' }, 'NaN')],
    });
    expect(data).toEqual([
      { tenant: 'acme', model: 'm', requests: 2, input_tokens: 20, cached_input_tokens: 3, output_tokens: 8, cost: '0.001234' },
      { tenant: 'other', model: 'm', requests: 5, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, cost: '0' },
    ]);
    expect(prometheusUsageQueries(3600, 'USD').costMicros).toBe('sum by (tenant, model) (increase(tollbooth_cost_micros_total{model!="none", currency="USD"}[3600s]))');
  });
});
