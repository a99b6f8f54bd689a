export { seededRandom } from '../../helpers/seeded-random.js';

/** A sampler of ranks 0..count-1 with P(k) ∝ 1 / (k + 1)^s. */
export function zipfSampler(count: number, s: number, random: () => number): { sample(): number; share(rank: number): number } {
  const cdf = new Float64Array(count);
  let sum = 0;
  for (let k = 0; k < count; k++) {
    sum += 1 / Math.pow(k + 1, s);
    cdf[k] = sum;
  }
  for (let k = 0; k < count; k++) cdf[k] = cdf[k]! / sum;
  return {
    sample() {
      const r = random();
      let low = 0;
      let high = count - 1;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (cdf[mid]! < r) low = mid + 1;
        else high = mid;
      }
      return low;
    },
    share: (rank) => cdf[rank]! - (rank === 0 ? 0 : cdf[rank - 1]!),
  };
}

/** Pearson's chi-square statistic of observed bucket counts against a uniform expectation. */
export function chiSquare(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  const expected = total / counts.length;
  let statistic = 0;
  for (let i = 0; i < counts.length; i++) statistic += (counts[i]! - expected) ** 2 / expected;
  return statistic;
}
