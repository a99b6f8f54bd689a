import { describe, expect, it } from 'vitest';
import { meanWait } from '../../../../src/analytics/capacity/erlang-c.js';
import {
  maxArrivalRate,
  meetsTarget,
  predictReplicas,
  replicaQueue,
  requiredReplicas,
  type Workload,
} from '../../../../src/analytics/capacity/sizing.js';

const workload: Workload = {
  arrivalRate: 100,
  arrivalScv: 1,
  serviceTime: 2,
  serviceScv: 0.3,
  concurrencyPerReplica: 16,
  prefillTime: 0.05,
};

describe('requiredReplicas', () => {
  it('is the smallest count meeting the target: one fewer misses it', () => {
    for (const target of [{ waitProbability: 0.05 }, { ttft: { quantile: 0.95, seconds: 1 } }, { meanWaitSeconds: 0.01 }]) {
      const replicas = requiredReplicas(workload, target)!;
      expect(replicas).toBeGreaterThanOrEqual(Math.ceil((100 * 2) / 16));
      expect(meetsTarget(predictReplicas(workload, replicas, target), target)).toBe(true);
      expect(meetsTarget(predictReplicas(workload, replicas - 1, target), target)).toBe(false);
    }
  });

  it('matches a hand count on one replica: Erlang C for 10 E on 11 servers is 0.682, on 16 servers under 5 %', () => {
    const single = { arrivalRate: 10, arrivalScv: 1, serviceTime: 1, serviceScv: 1, concurrencyPerReplica: 1, prefillTime: 0 };
    // 1 server per replica and a Poisson split: each replica an M/M/1 with λ/n.
    const n = requiredReplicas(single, { meanWaitSeconds: 0.5 })!;
    expect(meanWait({ arrivalRate: 10 / n, serviceTime: 1, servers: 1 })).toBeLessThanOrEqual(0.5);
    expect(meanWait({ arrivalRate: 10 / (n - 1), serviceTime: 1, servers: 1 })).toBeGreaterThan(0.5);
  });

  it('grows with the arrival rate and shrinks with the concurrency per replica', () => {
    const target = { waitProbability: 0.05, ttft: { quantile: 0.95, seconds: 1 } };
    let previous = 0;
    for (const rate of [1, 10, 50, 100, 400, 1000]) {
      const replicas = requiredReplicas({ ...workload, arrivalRate: rate }, target)!;
      expect(replicas).toBeGreaterThanOrEqual(previous);
      previous = replicas;
    }
    expect(requiredReplicas({ ...workload, concurrencyPerReplica: 64 }, target)!).toBeLessThan(requiredReplicas(workload, target)!);
  });

  it('is 1 for an idle model and null for a TTFT bound below the prefill time', () => {
    expect(requiredReplicas({ ...workload, arrivalRate: 0 }, { waitProbability: 0.05 })).toBe(1);
    expect(requiredReplicas(workload, { ttft: { quantile: 0.95, seconds: 0.01 } })).toBeNull();
  });
});

describe('maxArrivalRate (headroom)', () => {
  it('is where the target breaks: just below meets it, just above does not', () => {
    const target = { ttft: { quantile: 0.95, seconds: 1 } };
    const max = maxArrivalRate(workload, 14, target);
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThan((14 * 16) / 2);
    expect(meetsTarget(predictReplicas({ ...workload, arrivalRate: max * 0.999 }, 14, target), target)).toBe(true);
    expect(meetsTarget(predictReplicas({ ...workload, arrivalRate: max * 1.001 }, 14, target), target)).toBe(false);
  });

  it('grows with the replica count and is 0 when not even an idle fleet meets the target', () => {
    const target = { waitProbability: 0.05 };
    expect(maxArrivalRate(workload, 20, target)).toBeGreaterThan(maxArrivalRate(workload, 10, target));
    expect(maxArrivalRate(workload, 10, { ttft: { quantile: 0.9, seconds: 0.01 } })).toBe(0);
  });

  it('is consistent with requiredReplicas: the required count carries the current rate', () => {
    const target = { waitProbability: 0.05 };
    const replicas = requiredReplicas(workload, target)!;
    expect(maxArrivalRate(workload, replicas, target)).toBeGreaterThanOrEqual(workload.arrivalRate * 0.999);
  });
});

describe('replicaQueue', () => {
  it('splits the arrivals evenly and moves their variability towards Poisson', () => {
    const queue = replicaQueue({ ...workload, arrivalScv: 3 }, 4);
    expect(queue.arrivalRate).toBe(25);
    expect(queue.servers).toBe(16);
    expect(queue.arrivalScv).toBeCloseTo(0.25 * 3 + 0.75, 12);
    expect(replicaQueue({ ...workload, arrivalScv: 3 }, 1).arrivalScv).toBe(3);
  });
});
