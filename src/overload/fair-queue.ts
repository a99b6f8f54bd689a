/**
 * A bounded queue that releases its items fairly across flows (tenants), each flow weighted
 * (by its requests' class): start-time fair queuing. Each item gets a finish tag
 * `max(virtual time, its flow's last tag) + 1 / weight`; `pop` takes the smallest tag (ties by
 * arrival) and moves the virtual time to it. A flow with twice the weight gets twice the releases
 * while both wait, a flow with many waiting items cannot starve a newcomer (it starts at the
 * virtual time), and a flow that empties forgets its tag. Pure: no timers, no clock.
 */
export class WeightedFairQueue<T> {
  private readonly entries: Array<{ readonly item: T; readonly flow: string; readonly finish: number; readonly seq: number }> = [];
  private readonly lastFinish = new Map<string, { finish: number; waiting: number }>();
  private virtualTime = 0;
  private arrivals = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.entries.length;
  }

  /** Queues `item` in `flow` with `weight` (> 0); false (nothing queued) when the queue is full. */
  push(flow: string, weight: number, item: T): boolean {
    if (this.entries.length >= this.capacity) return false;
    const last = this.lastFinish.get(flow);
    const finish = Math.max(this.virtualTime, last?.finish ?? 0) + 1 / weight;
    this.lastFinish.set(flow, { finish, waiting: (last?.waiting ?? 0) + 1 });
    this.entries.push({ item, flow, finish, seq: this.arrivals++ });
    return true;
  }

  /** The next item to release, or undefined when empty. */
  pop(): T | undefined {
    let best = -1;
    for (let index = 0; index < this.entries.length; index++) {
      const entry = this.entries[index]!;
      const current = this.entries[best];
      if (current === undefined || entry.finish < current.finish || (entry.finish === current.finish && entry.seq < current.seq)) best = index;
    }
    if (best < 0) return undefined;
    const [entry] = this.entries.splice(best, 1);
    this.virtualTime = Math.max(this.virtualTime, entry!.finish);
    this.left(entry!.flow);
    return entry!.item;
  }

  /** Takes `item` out (its deadline passed, its client left); false when it is not queued. */
  remove(item: T): boolean {
    const index = this.entries.findIndex((entry) => entry.item === item);
    if (index < 0) return false;
    const [entry] = this.entries.splice(index, 1);
    this.left(entry!.flow);
    return true;
  }

  private left(flow: string): void {
    const last = this.lastFinish.get(flow)!;
    if (--last.waiting === 0) this.lastFinish.delete(flow);
  }
}
