import { mixInt } from './prng.js';

export interface PrefixLookup {
  /** Prompt tokens served from the cache (a whole number of blocks). */
  cachedTokens: number;
  /** Full blocks of the prompt, hit or not; all of them are now cached. */
  fullBlocks: number;
}

/**
 * Automatic prefix caching in the style of vLLM: the prompt is cut into full blocks, each block's
 * hash chains the previous block's hash (so a block only matches after the same prefix), and the
 * leading run of blocks already present counts as cached. Eviction is LRU over blocks.
 */
export class PrefixCache {
  // A Map keeps insertion order; re-inserting on touch makes its first key the LRU block.
  private readonly blocks = new Map<number, true>();

  constructor(
    readonly blockTokens: number,
    readonly capacityBlocks: number,
  ) {}

  get size(): number {
    return this.blocks.size;
  }

  /** Occupancy 0..1, the simulator's stand-in for vLLM's kv_cache_usage_perc. */
  usage(): number {
    return this.blocks.size / this.capacityBlocks;
  }

  clear(): void {
    this.blocks.clear();
  }

  /** Looks up the prompt's prefix, then stores (and touches) all of its full blocks. */
  lookupAndInsert(tokens: readonly number[], salt = 0): PrefixLookup {
    const fullBlocks = Math.floor(tokens.length / this.blockTokens);
    // vLLM always recomputes at least the last prompt token, so a full hit stops one token short.
    const maxHitBlocks = Math.floor(Math.max(0, tokens.length - 1) / this.blockTokens);
    let hash = mixInt(0x5eed, salt);
    let hitBlocks = 0;
    let stillHitting = true;
    for (let block = 0; block < fullBlocks; block++) {
      const start = block * this.blockTokens;
      for (let i = start; i < start + this.blockTokens; i++) hash = mixInt(hash, tokens[i] as number);
      const present = this.blocks.delete(hash);
      if (stillHitting && present && block < maxHitBlocks) hitBlocks++;
      else stillHitting = false;
      this.blocks.set(hash, true);
    }
    while (this.blocks.size > this.capacityBlocks) {
      const oldest = this.blocks.keys().next();
      if (oldest.done === true) break;
      this.blocks.delete(oldest.value);
    }
    return { cachedTokens: hitBlocks * this.blockTokens, fullBlocks };
  }
}
