/**
 * Cost in integer nano-units of the configured currency (1e-9), so totals are exact sums of
 * integers and never drift. Token prices are given per million tokens with at most three
 * decimals, which makes every token's price a whole number of nano-units.
 */
export const NANOS_PER_UNIT = 1_000_000_000n;

export interface TokenPrice {
  /** Nano-units per uncached input token. */
  readonly inputNanos: bigint;
  readonly cachedInputNanos: bigint;
  readonly outputNanos: bigint;
}

export interface TokenCounts {
  readonly input: number;
  readonly cachedInput: number;
  readonly output: number;
}

/** Price per million tokens (currency units) → nano-units per token; undefined when not exact. */
export function nanosPerToken(pricePerMillion: number): bigint | undefined {
  const nanos = pricePerMillion * 1000;
  const rounded = Math.round(nanos);
  return Math.abs(nanos - rounded) < 1e-6 && rounded >= 0 ? BigInt(rounded) : undefined;
}

/**
 * An amount in currency units (a budget, as configured) → integer nano-units. `toFixed(9)` rounds
 * the double to the nearest nano-unit exactly (5.25 → 5_250_000_000n, 0.1 → 100_000_000n), which no
 * float multiplication guarantees.
 */
export function unitsToNanos(units: number): bigint {
  if (!Number.isFinite(units) || units < 0 || units >= 1e12) throw new RangeError(`amount out of range: ${units}`);
  return BigInt(units.toFixed(9).replace('.', ''));
}

/**
 * A count or amount as a BigInt; never throws (BigInt(3.5) and BigInt(NaN) do). Counts are
 * validated where they enter (streaming/usage-report.ts): this only keeps the cost of a request,
 * computed after its response, from ever being the thing that fails. Not a number counts as 0.
 */
function wholeBigInt(value: number): bigint {
  return Number.isFinite(value) ? BigInt(Math.round(value)) : 0n;
}

export function tokenCostNanos(price: TokenPrice, tokens: TokenCounts): bigint {
  const cached = Math.min(tokens.cachedInput, tokens.input);
  return (
    wholeBigInt(tokens.input - cached) * price.inputNanos +
    wholeBigInt(cached) * price.cachedInputNanos +
    wholeBigInt(tokens.output) * price.outputNanos
  );
}

const MS_PER_HOUR = 3_600_000;

/** A share of a replica's busy time, charged at the replica's hourly price (rounded to a nano-unit). */
export function busyShareCostNanos(shareMs: number, pricePerHour: number): bigint {
  return wholeBigInt((shareMs * pricePerHour * 1e9) / MS_PER_HOUR);
}

/** Nano-units as a decimal string in currency units, exactly (e.g. 1234567890n → "1.23456789"). */
export function formatNanos(nanos: bigint): string {
  const negative = nanos < 0n;
  const magnitude = negative ? -nanos : nanos;
  const whole = magnitude / NANOS_PER_UNIT;
  const fraction = (magnitude % NANOS_PER_UNIT).toString().padStart(9, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/** Cost per 1,000 tokens as an exact decimal, rounded half away from zero to a nano-unit; null without tokens. */
export function costPerThousandTokens(nanos: bigint, tokens: number): string | null {
  if (!(tokens >= 1) || !Number.isFinite(tokens)) return null;
  return formatNanos(divideRounded(nanos * 1000n, BigInt(Math.round(tokens))));
}

function divideRounded(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  const quotient = (2n * magnitude + denominator) / (2n * denominator);
  return negative ? -quotient : quotient;
}
