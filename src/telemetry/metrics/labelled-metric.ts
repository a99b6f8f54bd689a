import type { Metric, Registry } from 'prom-client';

export interface LabelledMetricConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers: readonly Registry[];
}

/**
 * What our request-path metrics (`FixedCounter`, `FixedHistogram`) share: the fields prom-client's
 * Registry reads besides `get()`/`getForPromString()` and `reset()` (name, help, aggregator; each
 * subclass adds its `type`), the label names their series keys are built from, and registering in
 * the given registries like any prom-client metric.
 */
export abstract class LabelledMetric<L extends string> {
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  protected readonly labelNames: readonly L[];

  constructor(config: LabelledMetricConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }
}
