/**
 * Learns a replica's concurrency (vLLM's max_num_seqs) from its engine: while requests wait in the
 * engine's queue, every slot is taken, so the running count then is the limit. The highest such
 * count per replica is kept (a scrape can catch a slot just freed, never one too many). Counts
 * are the engine's totals over the models it serves. Bounded by the number of replicas observed;
 * `retain` drops the ones that left the fleet.
 */
export class ConcurrencyLearner {
  private readonly saturatedRunning = new Map<string, number>();
  private readonly lastScrape = new Map<string, number>();

  /** One engine scrape of a replica; the same scrape seen twice counts once. */
  observe(replica: string, engine: { readonly running: number; readonly waiting: number; readonly scrapedAt: number }): void {
    if (this.lastScrape.get(replica) === engine.scrapedAt) return;
    this.lastScrape.set(replica, engine.scrapedAt);
    if (!(engine.waiting > 0) || !(engine.running >= 1) || !Number.isFinite(engine.running)) return;
    const running = Math.floor(engine.running);
    if (running > (this.saturatedRunning.get(replica) ?? 0)) this.saturatedRunning.set(replica, running);
  }

  /** The concurrency learned for these replicas (the highest of them), undefined when none saturated yet. */
  learned(replicas: Iterable<string>): number | undefined {
    let highest: number | undefined;
    for (const replica of replicas) {
      const value = this.saturatedRunning.get(replica);
      if (value !== undefined && (highest === undefined || value > highest)) highest = value;
    }
    return highest;
  }

  retain(replicas: ReadonlySet<string>): void {
    for (const name of [...this.lastScrape.keys()]) {
      if (!replicas.has(name)) {
        this.lastScrape.delete(name);
        this.saturatedRunning.delete(name);
      }
    }
  }
}
