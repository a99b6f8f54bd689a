import { describe, expect, it } from 'vitest';
import { predictedWaitQuantile, predictedWaitVariance, predictWait } from '../../../../src/analytics/capacity/allen-cunneen.js';
import { meanWait, waitQuantile, waitVariance } from '../../../../src/analytics/capacity/erlang-c.js';

describe('Allen–Cunneen', () => {
  it('is Erlang C exactly for exponential arrivals and service (ca² = cs² = 1)', () => {
    const queue = { arrivalRate: 40, serviceTime: 0.2, servers: 10 };
    const prediction = predictWait({ ...queue, arrivalScv: 1, serviceScv: 1 });
    expect(prediction.meanWait).toBeCloseTo(meanWait(queue), 12);
    expect(predictedWaitQuantile(prediction, 0.95)).toBeCloseTo(waitQuantile(queue, 0.95), 12);
    expect(predictedWaitVariance(prediction)).toBeCloseTo(waitVariance(queue), 12);
  });

  it('gives the Pollaczek–Khinchine mean for M/G/1: Wq = ρ·E[S]·(1 + cs²) / (2(1 − ρ))', () => {
    const rho = 0.85;
    const service = 0.4;
    for (const cs2 of [0, 0.25, 1, 3]) {
      const prediction = predictWait({ arrivalRate: rho / service, serviceTime: service, servers: 1, arrivalScv: 1, serviceScv: cs2 });
      expect(prediction.meanWait).toBeCloseTo((rho * service * (1 + cs2)) / (2 * (1 - rho)), 10);
    }
  });

  it('scales the wait with (ca² + cs²)/2 and keeps P(wait) at Erlang C', () => {
    const queue = { arrivalRate: 30, serviceTime: 0.25, servers: 8 };
    const exponential = predictWait({ ...queue, arrivalScv: 1, serviceScv: 1 });
    const smooth = predictWait({ ...queue, arrivalScv: 1, serviceScv: 0.2 });
    expect(smooth.meanWait / exponential.meanWait).toBeCloseTo(0.6, 12);
    expect(smooth.waitProbability).toBe(exponential.waitProbability);
    expect(predictedWaitQuantile(smooth, 0.99)).toBeLessThan(predictedWaitQuantile(exponential, 0.99));
  });

  it('rises with either variability', () => {
    const queue = { arrivalRate: 30, serviceTime: 0.25, servers: 8 };
    let previous = -1;
    for (const scv of [0, 0.1, 0.5, 1, 2, 4]) {
      const wait = predictWait({ ...queue, arrivalScv: scv, serviceScv: 0.3 }).meanWait;
      expect(wait).toBeGreaterThan(previous);
      previous = wait;
    }
  });

  it('never waits with constant arrivals and service below saturation, and is unbounded at saturation', () => {
    const constant = predictWait({ arrivalRate: 3, serviceTime: 1, servers: 4, arrivalScv: 0, serviceScv: 0 });
    expect(constant.meanWait).toBe(0);
    expect(predictedWaitQuantile(constant, 0.99)).toBe(0);
    const saturated = predictWait({ arrivalRate: 4, serviceTime: 1, servers: 4, arrivalScv: 1, serviceScv: 0.5 });
    expect(saturated.stable).toBe(false);
    expect(saturated.meanWait).toBe(Number.POSITIVE_INFINITY);
    expect(() => predictWait({ arrivalRate: 1, serviceTime: 1, servers: 4, arrivalScv: -1, serviceScv: 0.5 })).toThrow(RangeError);
  });
});
