import { Counter, Registry, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FixedCounter } from '../../../src/telemetry/metrics/fixed-counter.js';

const INCREMENTS: readonly [Record<'model' | 'kind', string>, number | undefined][] = [
  [{ model: 'm', kind: 'input' }, 120],
  [{ model: 'm', kind: 'output' }, undefined],
  [{ kind: 'input', model: 'other "quoted"\\name\nline' }, 0],
  [{ model: 'm', kind: 'input' }, 0.1 + 0.2],
  [{ model: 'm', kind: 'output' }, 64],
];

function registry(openMetrics: boolean): Registry {
  if (!openMetrics) return new Registry();
  const openMetricsRegistry = new Registry<OpenMetricsContentType>();
  openMetricsRegistry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return openMetricsRegistry as unknown as Registry;
}

function pair(openMetrics = false) {
  const theirs = registry(openMetrics);
  const ours = registry(openMetrics);
  const config = { name: 'x_tokens_total', help: 'Some "help"\\ text.', labelNames: ['model', 'kind'] as const };
  const reference = new Counter({ ...config, registers: [theirs] });
  const fixed = new FixedCounter({ ...config, registers: [ours] });
  return { theirs, ours, reference, fixed };
}

describe('FixedCounter', () => {
  it('renders byte for byte what a prom-client Counter renders (text and OpenMetrics, JSON too)', async () => {
    for (const openMetrics of [false, true]) {
      const { theirs, ours, reference, fixed } = pair(openMetrics);
      for (const [labels, value] of INCREMENTS) {
        reference.inc(labels, value);
        fixed.inc(labels, value);
      }
      expect(await ours.metrics()).toBe(await theirs.metrics());
      expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    }
  });

  it('renders nothing but HELP and TYPE before the first increment and after reset', async () => {
    const { theirs, ours, reference, fixed } = pair();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    reference.inc({ model: 'm', kind: 'input' });
    fixed.inc({ model: 'm', kind: 'input' });
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses to decrease or to add what is not a number, as prom-client does', () => {
    const { fixed } = pair();
    expect(() => fixed.inc({ model: 'm', kind: 'input' }, -1)).toThrow('It is not possible to decrease a counter');
    expect(() => fixed.inc({ model: 'm', kind: 'input' }, Number.NaN)).toThrow(TypeError);
  });
});
