import { describe, expect, it } from 'vitest';
import { OpenExchanges, type DrainableExchange } from '../../../src/proxy/open-exchanges.js';

/** An exchange whose response closes `closeAfterMs` after it is ended (never, when undefined). */
function exchange(registry: OpenExchanges, closeAfterMs: number | undefined): DrainableExchange & { ended: boolean } {
  const self = {
    ended: false,
    endForDrain() {
      self.ended = true;
      if (closeAfterMs !== undefined) setTimeout(() => registry.delete(self), closeAfterMs);
    },
  };
  registry.add(self);
  return self;
}

describe('OpenExchanges', () => {
  it('ends every open exchange and resolves once all have closed', async () => {
    const registry = new OpenExchanges();
    const all = [exchange(registry, 0), exchange(registry, 20), exchange(registry, 5)];
    expect(await registry.endAll(10_000)).toBe(3);
    expect(all.every((one) => one.ended)).toBe(true);
    expect(registry.size).toBe(0);
  });

  it('stops waiting after the timeout when a response never closes', async () => {
    const registry = new OpenExchanges();
    exchange(registry, undefined);
    exchange(registry, 0);
    expect(await registry.endAll(50)).toBe(2);
    expect(registry.size).toBe(1);
  });

  it('resolves at once with nothing open, and forgets closed exchanges', async () => {
    const registry = new OpenExchanges();
    const closed = exchange(registry, 0);
    registry.delete(closed);
    registry.delete(closed);
    expect(await registry.endAll(10_000)).toBe(0);
    expect(closed.ended).toBe(false);
  });
});
