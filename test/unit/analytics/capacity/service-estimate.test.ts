import { describe, expect, it } from 'vitest';
import { predictedWaitVariance, predictWait } from '../../../../src/analytics/capacity/allen-cunneen.js';
import { arrivalScvFromCounts, estimateWorkload } from '../../../../src/analytics/capacity/service-estimate.js';
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
  it('is about 1 for Poisson counts and 0 for perfectly even ones', () => {
    const random = seededRandom(11);
    const counts = Array.from({ length: 2000 }, () => {
      // Poisson(20) by counting exponential gaps in one unit of time.
      let n = 0;
      for (let t = -Math.log(1 - random()) / 20; t < 1; t += -Math.log(1 - random()) / 20) n++;
      return n;
    });
    expect(arrivalScvFromCounts(counts)!).toBeGreaterThan(0.9);
    expect(arrivalScvFromCounts(counts)!).toBeLessThan(1.1);
    expect(arrivalScvFromCounts([30, 30, 30, 30, 30, 30])).toBe(0);
  });

  it('says nothing from too few slots or requests', () => {
    expect(arrivalScvFromCounts([10, 12, 9, 11])).toBeUndefined();
    expect(arrivalScvFromCounts([1, 0, 2, 1, 0, 1])).toBeUndefined();
  });
});
