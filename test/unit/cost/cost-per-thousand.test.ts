import { describe, expect, it } from 'vitest';
import { costPerThousandTokens, formatNanos } from '../../../src/cost/cost.js';

describe('formatNanos', () => {
  it('writes the exact decimal of an amount of nanos', () => {
    expect(formatNanos(0n)).toBe('0');
    expect(formatNanos(1n)).toBe('0.000000001');
    expect(formatNanos(1_500_000_000n)).toBe('1.5');
    expect(formatNanos(12_345_678_901n)).toBe('12.345678901');
    expect(formatNanos(-2_000_000_005n)).toBe('-2.000000005');
    expect(formatNanos(90_071_992_547_409_930_000n)).toBe('90071992547.40993');
  });

  it('sums thirds without drift where floats would not', () => {
    const third = 333_333_333n; // 1/3 of a unit, rounded down to a nano
    expect(formatNanos(third + third + third)).toBe('0.999999999');
    const tenth = 100_000_000n;
    let total = 0n;
    for (let i = 0; i < 10; i++) total += tenth;
    expect(formatNanos(total)).toBe('1');
    expect(0.1 * 3 === 0.3).toBe(false); // what the bigint avoids
    expect(formatNanos(tenth * 3n)).toBe('0.3');
  });
});

describe('costPerThousandTokens', () => {
  it('divides with rounding half away from zero to a nano', () => {
    expect(costPerThousandTokens(1_000_000_000n, 3000)).toBe('0.333333333');
    expect(costPerThousandTokens(2_000_000_000n, 3000)).toBe('0.666666667');
    expect(costPerThousandTokens(-2_000_000_000n, 3000)).toBe('-0.666666667');
    expect(costPerThousandTokens(5n, 1000)).toBe('0.000000005');
  });

  it('has no answer without tokens', () => {
    expect(costPerThousandTokens(10n, 0)).toBeNull();
    expect(costPerThousandTokens(10n, Number.NaN)).toBeNull();
  });
});
