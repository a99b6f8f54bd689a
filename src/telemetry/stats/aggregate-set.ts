import { Aggregate, type PreparedRequest, TenantUsage } from './aggregate.js';
import type { CountStorage } from './log-histogram.js';

/** Overall, per model and per replica aggregates, and per tenant usage, of one span of time (a slot, or since start). */
export class AggregateSet {
  readonly overall: Aggregate;
  readonly byModel = new Map<string, Aggregate>();
  readonly byReplica = new Map<string, Aggregate>();
  /** Keyed by tenant label: declared tenants, "other" and "none", so bounded by the configuration. */
  readonly byTenant = new Map<string, TenantUsage>();

  constructor(private readonly storage: CountStorage) {
    this.overall = new Aggregate(storage);
  }

  add(prepared: PreparedRequest): void {
    this.overall.add(prepared);
    this.keyed(this.byModel, prepared.request.model).add(prepared);
    if (prepared.request.replica !== null) this.keyed(this.byReplica, prepared.request.replica).add(prepared);
    this.tenant(prepared.request.tenant).add(prepared);
  }

  merge(other: AggregateSet): void {
    if (other.overall.total === 0) return;
    this.overall.merge(other.overall);
    for (const [name, aggregate] of other.byModel) if (aggregate.total > 0) this.keyed(this.byModel, name).merge(aggregate);
    for (const [name, aggregate] of other.byReplica) if (aggregate.total > 0) this.keyed(this.byReplica, name).merge(aggregate);
    for (const [name, usage] of other.byTenant) if (usage.total > 0) this.tenant(name).merge(usage);
  }

  /** Zeroes every aggregate but keeps it allocated: a reused slot allocates nothing. */
  reset(): void {
    this.overall.reset();
    for (const aggregate of this.byModel.values()) aggregate.reset();
    for (const aggregate of this.byReplica.values()) aggregate.reset();
    for (const usage of this.byTenant.values()) usage.reset();
  }

  /** Adds empty aggregates for the names (so a window lists every model, replica and tenant seen since start). */
  includeNames(models: Iterable<string>, replicas: Iterable<string>, tenants: Iterable<string> = []): void {
    for (const name of models) this.keyed(this.byModel, name);
    for (const name of replicas) this.keyed(this.byReplica, name);
    for (const name of tenants) this.tenant(name);
  }

  get aggregateCount(): number {
    return 1 + this.byModel.size + this.byReplica.size;
  }

  get byteLength(): number {
    let bytes = this.overall.byteLength;
    for (const aggregate of this.byModel.values()) bytes += aggregate.byteLength;
    for (const aggregate of this.byReplica.values()) bytes += aggregate.byteLength;
    return bytes;
  }

  private tenant(name: string): TenantUsage {
    let usage = this.byTenant.get(name);
    if (usage === undefined) {
      usage = new TenantUsage();
      this.byTenant.set(name, usage);
    }
    return usage;
  }

  private keyed(map: Map<string, Aggregate>, name: string): Aggregate {
    let aggregate = map.get(name);
    if (aggregate === undefined) {
      aggregate = new Aggregate(this.storage);
      map.set(name, aggregate);
    }
    return aggregate;
  }
}
