import { describe, expect, it } from 'vitest';
import {
  erlangB,
  erlangC,
  meanWait,
  waitExceedance,
  waitProbability,
  waitQuantile,
  waitVariance,
} from '../../../../src/analytics/capacity/erlang-c.js';

describe('Erlang B and C: published values', () => {
  it('matches the Erlang B table: 10 servers carry 4.46 E at 1 % blocking, 5.08 E at 2 %; B(10, 10) = 0.2146', () => {
    expect(erlangB(10, 4.46)).toBeCloseTo(0.01, 4);
    expect(erlangB(10, 5.08)).toBeCloseTo(0.02, 3);
    expect(erlangB(10, 10)).toBeCloseTo(0.2146, 4);
  });

  it('matches the call-centre example: 360 calls per 30 min, 240 s handling, 55 agents → P(wait) 23.9 %, ASA 8.2 s, 86.7 % answered in 20 s', () => {
    const queue = { arrivalRate: 360 / 1800, serviceTime: 240, servers: 55 };
    expect(waitProbability(queue)).toBeCloseTo(0.2387, 4);
    expect(meanWait(queue)).toBeCloseTo(8.18, 2);
    expect(1 - waitExceedance(queue, 20)).toBeCloseTo(0.8668, 4);
  });

  it('10 Erlangs on 11 servers wait with probability 0.682', () => {
    expect(erlangC(11, 10)).toBeCloseTo(0.6821, 4);
  });

  it('reduces to the closed forms of M/M/1 (C = ρ, Wq = ρ/(μ−λ)) and M/M/2 (C = 2ρ²/(1+ρ))', () => {
    const mm1 = { arrivalRate: 0.8, serviceTime: 1, servers: 1 };
    expect(waitProbability(mm1)).toBeCloseTo(0.8, 12);
    expect(meanWait(mm1)).toBeCloseTo(0.8 / (1 - 0.8), 10);
    expect(waitVariance(mm1)).toBeCloseTo((2 * 0.8 - 0.64) / (0.2 * 0.2), 9);
    const rho = 0.75;
    expect(erlangC(2, 2 * rho)).toBeCloseTo((2 * rho * rho) / (1 + rho), 12);
  });

  it('agrees with the textbook sum Σ a^k/k! where that does not overflow (c = 40)', () => {
    const servers = 40;
    const load = 34;
    let term = 1;
    let sum = 1;
    for (let k = 1; k < servers; k++) {
      term *= load / k;
      sum += term;
    }
    const last = (term * load) / servers; // a^c / c!
    const tail = (last * servers) / (servers - load);
    expect(erlangC(servers, load)).toBeCloseTo(tail / (sum + tail), 12);
  });

  it('stays finite and in [0, 1] for thousands of servers, where a^c/c! overflows', () => {
    for (const servers of [171, 1000, 5000]) {
      const c = erlangC(servers, servers * 0.97);
      expect(Number.isFinite(c)).toBe(true);
      expect(c).toBeGreaterThan(0);
      expect(c).toBeLessThan(1);
    }
    // Economies of scale: at the same utilisation, more servers wait less.
    expect(erlangC(5000, 4850)).toBeLessThan(erlangC(1000, 970));
  });
});

describe('Erlang C: properties', () => {
  it('rises with the arrival rate and falls with the server count', () => {
    for (const servers of [1, 2, 5, 20, 100]) {
      let previous = -1;
      for (let utilisation = 0.05; utilisation < 1; utilisation += 0.05) {
        const queue = { arrivalRate: (utilisation * servers) / 0.3, serviceTime: 0.3, servers };
        const wait = meanWait(queue);
        expect(wait).toBeGreaterThan(previous);
        previous = wait;
      }
    }
    for (let servers = 5; servers < 60; servers++) {
      expect(erlangC(servers + 1, 4.5)).toBeLessThan(erlangC(servers, 4.5));
      expect(meanWait({ arrivalRate: 15, serviceTime: 0.3, servers: servers + 1 })).toBeLessThan(
        meanWait({ arrivalRate: 15, serviceTime: 0.3, servers }),
      );
    }
  });

  it('is unstable at or above saturation: P(wait) 1, infinite wait and quantiles', () => {
    const queue = { arrivalRate: 10, serviceTime: 0.5, servers: 5 };
    expect(waitProbability(queue)).toBe(1);
    expect(meanWait(queue)).toBe(Number.POSITIVE_INFINITY);
    expect(waitQuantile(queue, 0.95)).toBe(Number.POSITIVE_INFINITY);
  });

  it('has no wait without arrivals', () => {
    const queue = { arrivalRate: 0, serviceTime: 0.5, servers: 3 };
    expect(waitProbability(queue)).toBe(0);
    expect(meanWait(queue)).toBe(0);
    expect(waitQuantile(queue, 0.99)).toBe(0);
  });

  it('gives quantiles that invert the exceedance: P(W > t_q) = 1 − q, and 0 below the waiting mass', () => {
    const queue = { arrivalRate: 9, serviceTime: 1, servers: 10 };
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const t = waitQuantile(queue, q);
      if (t > 0) expect(waitExceedance(queue, t)).toBeCloseTo(1 - q, 10);
      else expect(waitProbability(queue)).toBeLessThanOrEqual(1 - q);
    }
    expect(waitQuantile({ arrivalRate: 1, serviceTime: 1, servers: 10 }, 0.95)).toBe(0);
  });

  it('refuses nonsense', () => {
    expect(() => erlangB(0, 1)).toThrow(RangeError);
    expect(() => erlangB(2.5, 1)).toThrow(RangeError);
    expect(() => meanWait({ arrivalRate: 1, serviceTime: 0, servers: 1 })).toThrow(RangeError);
    expect(() => meanWait({ arrivalRate: -1, serviceTime: 1, servers: 1 })).toThrow(RangeError);
    expect(() => waitQuantile({ arrivalRate: 1, serviceTime: 1, servers: 2 }, 1)).toThrow(RangeError);
  });
});
