import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FixedHistogram } from '../../../src/telemetry/metrics/fixed-histogram.js';

const BUCKETS = [0.01, 0.025, 0.1, 1];
const OBSERVATIONS: readonly [Record<'model' | 'replica', string>, number][] = [
  [{ model: 'm', replica: 'a' }, 0.005],
  [{ model: 'm', replica: 'a' }, 0.01],
  [{ model: 'other "quoted"\\name', replica: 'b' }, 0.3],
  [{ model: 'm', replica: 'a' }, 7],
  [{ model: 'm', replica: 'b' }, 0.025],
  [{ model: 'm', replica: 'a' }, 0.1 + 0.2],
];

function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const config = { name: 'x_seconds', help: 'Some "help"\\ text.', labelNames: ['model', 'replica'] as const, buckets: BUCKETS };
  const reference = new Histogram({ ...config, registers: [theirs] });
  const fixed = new FixedHistogram({ ...config, registers: [ours] });
  return { theirs, ours, reference, fixed };
}

describe('FixedHistogram', () => {
  it('renders byte for byte what a prom-client Histogram renders, with observe and observeMany', async () => {
    const { theirs, ours, reference, fixed } = pair();
    for (const [labels, value] of OBSERVATIONS) {
      reference.observe(labels, value);
      fixed.observe(labels, value);
    }
    const gapsMs = [12, 0, 33.3, 2500];
    for (const gap of gapsMs) reference.observe({ model: 'm', replica: 'b' }, gap / 1000);
    fixed.observeMany({ model: 'm', replica: 'b' }, gapsMs, 1000);
    fixed.observeMany({ model: 'never', replica: 'seen' }, [], 1000);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('renders nothing but HELP and TYPE before the first observation and after reset', async () => {
    const { theirs, ours, reference, fixed } = pair();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    reference.observe({ model: 'm', replica: 'a' }, 1);
    fixed.observe({ model: 'm', replica: 'a' }, 1);
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('rejects a value that is not a finite number, as prom-client does', () => {
    const { fixed } = pair();
    expect(() => fixed.observe({ model: 'm', replica: 'a' }, Number.NaN)).toThrow(TypeError);
  });
});
