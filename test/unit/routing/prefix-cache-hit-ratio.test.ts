import { describe, expect, it } from 'vitest';
import type { EngineStats } from '../../../src/routing/engine-stats.js';
import { nextPrefixCacheHitRatio } from '../../../src/routing/fleet-monitor.js';

function read(queries: number, hits: number): EngineStats {
  return { waiting: 0, running: 0, kvCacheUsage: 0, prefixCacheQueries: queries, prefixCacheHits: hits, scrapedAt: 0 };
}

describe('nextPrefixCacheHitRatio', () => {
  it('is hits / queries between two reads', () => {
    expect(nextPrefixCacheHitRatio(undefined, read(100, 40), read(200, 100))).toBe(0.6);
  });

  it('keeps the last interval that had prompts while the engine answers none (the gauge no longer blinks out between requests)', () => {
    expect(nextPrefixCacheHitRatio(0.6, read(200, 100), read(200, 100))).toBe(0.6);
    expect(nextPrefixCacheHitRatio(undefined, read(200, 100), read(200, 100))).toBeUndefined();
  });

  it('knows nothing from a first read, or from counters without the prefix-cache figures', () => {
    expect(nextPrefixCacheHitRatio(undefined, undefined, read(100, 40))).toBeUndefined();
    expect(nextPrefixCacheHitRatio(undefined, read(100, 40), { ...read(0, 0), prefixCacheQueries: undefined, prefixCacheHits: undefined })).toBeUndefined();
  });
});
