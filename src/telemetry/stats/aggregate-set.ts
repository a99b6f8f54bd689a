import { Aggregate, type PreparedRequest } from './aggregate.js';
import type { CountStorage } from './log-histogram.js';

/** Overall, per model and per replica aggregates of one span of time (a slot, or since start). */
export class AggregateSet {
  readonly overall: Aggregate;
  readonly byModel = new Map<string, Aggregate>();
  readonly byReplica = new Map<string, Aggregate>();

  constructor(private readonly storage: CountStorage) {
    this.overall = new Aggregate(storage);
  }

  add(prepared: PreparedRequest): void {
    this.overall.add(prepared);
    this.keyed(this.byModel, prepared.request.model).add(prepared);
    if (prepared.request.replica !== null) this.keyed(this.byReplica, prepared.request.replica).add(prepared);
  }

  merge(other: AggregateSet): void {
    if (other.overall.total === 0) return;
    this.overall.merge(other.overall);
    for (const [name, aggregate] of other.byModel) if (aggregate.total > 0) this.keyed(this.byModel, name).merge(aggregate);
    for (const [name, aggregate] of other.byReplica) if (aggregate.total > 0) this.keyed(this.byReplica, name).merge(aggregate);
  }

  /** Zeroes every aggregate but keeps it allocated: a reused slot allocates nothing. */
  reset(): void {
    this.overall.reset();
    for (const aggregate of this.byModel.values()) aggregate.reset();
    for (const aggregate of this.byReplica.values()) aggregate.reset();
  }

  /** Adds empty aggregates for the names (so a window lists every model and replica seen since start). */
  includeNames(models: Iterable<string>, replicas: Iterable<string>): void {
    for (const name of models) this.keyed(this.byModel, name);
    for (const name of replicas) this.keyed(this.byReplica, name);
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

  private keyed(map: Map<string, Aggregate>, name: string): Aggregate {
    let aggregate = map.get(name);
    if (aggregate === undefined) {
      aggregate = new Aggregate(this.storage);
      map.set(name, aggregate);
    }
    return aggregate;
  }
}
