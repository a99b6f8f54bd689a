/**
 * Cost arithmetic on integer nano-units (1e-9 of the currency), as bigint: sums are exact, and
 * the decimal strings are produced from the integer digits, so no float ever touches a total.
 */
const NANOS_PER_UNIT = 1_000_000_000n;

/** The exact decimal string of an amount of nanos: 1_500_000_000n → "1.5", 1n → "0.000000001", 0n → "0". */
export function formatNanos(nanos: bigint): string {
  const sign = nanos < 0n ? '-' : '';
  const magnitude = nanos < 0n ? -nanos : nanos;
  const whole = magnitude / NANOS_PER_UNIT;
  const fraction = (magnitude % NANOS_PER_UNIT).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/** Cost per 1,000 tokens, rounded half away from zero to a nano; null without tokens. */
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
