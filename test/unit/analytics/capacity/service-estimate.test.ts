import { describe, expect, it } from 'vitest';
import { predictedWaitVariance, predictWait } from '../../../../src/analytics/capacity/allen-cunneen.js';
import { arrivalScvFromCounts, chiSquaredQuantile, estimateWorkload } from '../../../../src/analytics/capacity/service-estimate.js';
import { seededRandom } from '../../../helpers/seeded-random.js';

describe('estimateWorkload', () => {
  it('recovers the service time and its variability from latencies that include the modelled wait', () => {
    for (const utilisation of [0.2, 0.5, 0.8, 0.95, 0.99]) {
      const service = { serviceTime: 0.4, serviceScv: 0.2 };
      const servers = 4;
      const arrivalRate = (utilisation * servers) / service.serviceTime;
      const truth = predictWait({ arrivalRate, servers, arrivalScv: 1, ...service });
      const latencyMean = service.serviceTime + truth.meanWait;
      const latencyVariance = service.serviceScv * service.serviceTime ** 2 + predictedWaitVariance(truth);
      const { workload, meanWait } = estimateWorkload({
        arrivalRate,
        arrivalScv: 1,
        latencyMean,
        latencyVariance,
        ttftMean: 0.02 + truth.meanWait,
        replicas: 1,
        concurrencyPerReplica: servers,
      });
      expect(workload.serviceTime).toBeCloseTo(0.4, 5);
      expect(workload.serviceScv).toBeCloseTo(0.2, 3);
      expect(meanWait).toBeCloseTo(truth.meanWait, 5);
      expect(workload.prefillTime).toBeCloseTo(0.02, 5);
    }
  });

  it('takes the latency as the service time without traffic, and Poisson arrivals when unmeasured', () => {
    const { workload, meanWait } = estimateWorkload({
      arrivalRate: 0,
      arrivalScv: undefined,
      latencyMean: 1.5,
      latencyVariance: 0.45,
      ttftMean: undefined,
      replicas: 2,
      concurrencyPerReplica: 8,
    });
    expect(workload.serviceTime).toBeCloseTo(1.5, 6);
    expect(workload.serviceScv).toBeCloseTo(0.2, 6);
    expect(workload.arrivalScv).toBe(1);
    expect(workload.prefillTime).toBe(0);
    expect(meanWait).toBe(0);
  });
});

describe('arrivalScvFromCounts', () => {
  const poissonCounts = (random: () => number, slots: number, perSlot: number, burst = 1): number[] =>
    Array.from({ length: slots }, () => {
      // Poisson(perSlot / burst) batches of `burst` requests, by counting exponential gaps in one unit of time.
      let n = 0;
      const rate = perSlot / burst;
      for (let t = -Math.log(1 - random()) / rate; t < 1; t += -Math.log(1 - random()) / rate) n += burst;
      return n;
    });

  it('takes Poisson counts as Poisson (undefined: ca² = 1), however few slots', () => {
    const random = seededRandom(11);
    let assumed = 0;
    for (let trial = 0; trial < 200; trial++) if (arrivalScvFromCounts(poissonCounts(random, 30, 100)) === undefined) assumed++;
    // The 99 % interval: about 2 in 200 trials fall outside it by chance.
    expect(assumed).toBeGreaterThanOrEqual(192);
  });

  it('measures bursty arrivals (batches of 4: dispersion 4) and perfectly even ones (0)', () => {
    const bursty = arrivalScvFromCounts(poissonCounts(seededRandom(5), 30, 200, 4))!;
    expect(bursty).toBeGreaterThan(2.5);
    expect(bursty).toBeLessThan(6);
    expect(arrivalScvFromCounts([30, 30, 30, 30, 30, 30])).toBe(0);
  });

  it('says nothing from too few slots or requests', () => {
    expect(arrivalScvFromCounts([10, 30, 9, 41])).toBeUndefined();
    expect(arrivalScvFromCounts([1, 0, 2, 1, 0, 1])).toBeUndefined();
  });

  it('uses χ² quantiles close to the tables: χ²(0.995; 29) = 52.34, χ²(0.005; 29) = 13.12', () => {
    expect(chiSquaredQuantile(29, 2.5758293035489)).toBeCloseTo(52.34, 0);
    expect(chiSquaredQuantile(29, -2.5758293035489)).toBeCloseTo(13.12, 0);
  });
});
