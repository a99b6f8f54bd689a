import type { CostConfig } from './config.js';
import type { RequestCost, RequestPricing } from '../lifecycle/request-lifecycle.js';
import { busyShareCostNanos, nanosPerToken, tokenCostNanos, type TokenCounts, type TokenPrice } from './cost.js';

const FREE: RequestCost = { nanos: 0n, basis: 'none' };

/**
 * The configured prices, converted once at boot. A model with token prices is charged by its
 * tokens; otherwise a replica with an hourly price charges its share of busy time; otherwise the
 * request costs nothing (and says so, rather than pretending).
 */
export class PriceBook implements RequestPricing {
  readonly currency: string;
  private readonly tokenPrices = new Map<string, TokenPrice>();
  private readonly replicaHourly: ReadonlyMap<string, number>;

  constructor(cost: CostConfig) {
    this.currency = cost.currency;
    for (const [model, price] of Object.entries(cost.tokenPrices)) {
      const input = nanosPerToken(price.input)!;
      this.tokenPrices.set(model, {
        inputNanos: input,
        cachedInputNanos: price.cachedInput === undefined ? input : nanosPerToken(price.cachedInput)!,
        outputNanos: nanosPerToken(price.output)!,
      });
    }
    this.replicaHourly = new Map(Object.entries(cost.replicaHourly));
  }

  costOf(model: string | undefined, replica: string | undefined, tokens: TokenCounts, busyShareMs: number): RequestCost {
    const tokenPrice = model === undefined ? undefined : this.tokenPrices.get(model);
    if (tokenPrice !== undefined) return { nanos: tokenCostNanos(tokenPrice, tokens), basis: 'tokens' };
    const hourly = replica === undefined ? undefined : this.replicaHourly.get(replica);
    if (hourly !== undefined) return { nanos: busyShareCostNanos(busyShareMs, hourly), basis: 'replica_time' };
    return FREE;
  }
}
