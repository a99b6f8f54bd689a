import { describe, expect, it } from 'vitest';
import { BusyShareClock } from '../../../src/cost/busy-share.js';
import { keyBudgetSchema } from '../../../src/auth/policy.js';
import { busyShareCostNanos, formatNanos, nanosPerToken, tokenCostNanos, unitsToNanos } from '../../../src/cost/cost.js';
import { PriceBook } from '../../../src/cost/price-book.js';
import { parseConfig } from '../../../src/config/load.js';

describe('token cost', () => {
  it('converts prices per million tokens to whole nano-units per token, or refuses', () => {
    expect(nanosPerToken(0.15)).toBe(150n);
    expect(nanosPerToken(2.5)).toBe(2500n);
    expect(nanosPerToken(0.001)).toBe(1n);
    expect(nanosPerToken(0.0001)).toBeUndefined();
    expect(nanosPerToken(-1)).toBeUndefined();
  });

  it('charges uncached input, cached input and output at their prices, exactly', () => {
    const price = { inputNanos: 150n, cachedInputNanos: 75n, outputNanos: 600n };
    expect(tokenCostNanos(price, { input: 1000, cachedInput: 400, output: 7 })).toBe(600n * 150n + 400n * 75n + 7n * 600n);
    // Cached never exceeds input, whatever a replica reports.
    expect(tokenCostNanos(price, { input: 10, cachedInput: 50, output: 0 })).toBe(10n * 75n);
  });

  it('sums without drift where floats would', () => {
    let floatTotal = 0;
    let exact = 0n;
    for (let i = 0; i < 100_000; i += 1) {
      floatTotal += 0.1 * 1e-6 * 3; // 3 tokens at $0.10 per million, in dollars
      exact += tokenCostNanos({ inputNanos: 100n, cachedInputNanos: 100n, outputNanos: 100n }, { input: 3, cachedInput: 0, output: 0 });
    }
    expect(formatNanos(exact)).toBe('0.03');
    expect(floatTotal).not.toBe(0.03);
  });

  it('formats nano-units as exact decimals', () => {
    expect(formatNanos(0n)).toBe('0');
    expect(formatNanos(1n)).toBe('0.000000001');
    expect(formatNanos(1_234_567_890n)).toBe('1.23456789');
    expect(formatNanos(-5_000_000_000n)).toBe('-5');
  });
});

describe('replica busy time', () => {
  it('splits busy time among the requests in flight, adding up to the busy time exactly', () => {
    const clock = new BusyShareClock();
    const a = clock.begin(0);
    const b = clock.begin(100); // a alone for 100 ms, then shared
    const shareA = clock.end(300, a); // 100 + 200/2
    const shareB = clock.end(400, b); // 200/2 + 100
    expect(shareA).toBeCloseTo(200, 9);
    expect(shareB).toBeCloseTo(200, 9);
    expect(shareA + shareB).toBeCloseTo(400, 9);
    // Idle time is nobody's.
    const c = clock.begin(1000);
    expect(clock.end(1010, c)).toBeCloseTo(10, 9);
    expect(clock.inFlight).toBe(0);
  });

  it('charges a share at the hourly price', () => {
    expect(busyShareCostNanos(3_600_000, 2.5)).toBe(2_500_000_000n);
    expect(busyShareCostNanos(1, 3.6)).toBe(1000n);
  });
});

describe('PriceBook', () => {
  const config = parseConfig({ auth: { enabled: false },
    replicas: [{ name: 'gpu-0', url: 'http://10.0.0.1:8000', models: ['llama', 'qwen'] }],
    cost: { currency: 'EUR', tokenPrices: { llama: { input: 0.1, output: 0.4 } }, replicaHourly: { 'gpu-0': 3.6 } },
  });
  const book = new PriceBook(config.cost);
  const tokens = { input: 10, cachedInput: 4, output: 5 };

  it('prices a priced model by tokens (cached input defaults to the input price)', () => {
    expect(book.costOf('llama', 'gpu-0', tokens, 1000)).toEqual({ nanos: 10n * 100n + 5n * 400n, basis: 'tokens' });
  });

  it('falls back to the replica hourly price, then to nothing', () => {
    expect(book.costOf('qwen', 'gpu-0', tokens, 1000)).toEqual({ nanos: 1_000_000n, basis: 'replica_time' });
    expect(book.costOf('qwen', 'elsewhere', tokens, 1000)).toEqual({ nanos: 0n, basis: 'none' });
    expect(book.currency).toBe('EUR');
  });

  it('is validated at boot: inexact prices and unknown replicas are reported with their paths', () => {
    expect(() =>
      parseConfig({ auth: { enabled: false },
        replicas: [{ url: 'http://10.0.0.1:8000', models: ['m'] }],
        cost: { currency: 'usd', tokenPrices: { m: { input: 0.00015, output: 1 } }, replicaHourly: { nowhere: 1 } },
      }),
    ).toThrow(/cost\.currency: .*ISO 4217[\s\S]*cost\.tokenPrices\.m\.input: use at most 3 decimals[\s\S]*cost\.replicaHourly\.nowhere: no replica is named "nowhere"/);
  });
});

describe('key budgets reach unitsToNanos only in its range', () => {
  it('are refused by the key schema from 1e12 currency units, where the conversion would throw', () => {
    expect(keyBudgetSchema.safeParse({ daily: 1e12 }).success).toBe(false);
    expect(keyBudgetSchema.safeParse({ monthly: 1e15 }).success).toBe(false);
    expect(() => unitsToNanos(keyBudgetSchema.parse({ daily: 999_999_999_999 }).daily!)).not.toThrow();
  });
});
