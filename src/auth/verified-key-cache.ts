/**
 * The principals of keys the ring verified lately, by the raw presented key: a caller that comes
 * back skips the SHA-256 of its key (1–2 % of the gateway's CPU per request at c = 32 in
 * `npm run bench:profile`). Only keys that verified are ever stored, so an unknown, wrong or
 * missing key always misses and takes the ring's constant-time path (digest, one lookup, one
 * `timingSafeEqual`); what a hit saves tells a caller only that its key is valid, which the
 * response says anyway. The owner clears it whenever its keys change, so a revoked or replaced key
 * is never answered from here.
 *
 * Bounded: when full, the key stored first is dropped (a Map keeps insertion order), so a fleet of
 * more active keys than the capacity degrades to the uncached cost, never to unbounded memory.
 */
export class VerifiedKeyCache<Value> {
  private readonly entries = new Map<string, Value>();

  constructor(private readonly capacity: number) {}

  get(key: string): Value | undefined {
    return this.entries.get(key);
  }

  remember(key: string, value: Value): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
