import { describe, expect, it } from 'vitest';
import { WeightedFairQueue } from '../../../src/overload/fair-queue.js';

function drain<T>(queue: WeightedFairQueue<T>): T[] {
  const out: T[] = [];
  for (let item = queue.pop(); item !== undefined; item = queue.pop()) out.push(item);
  return out;
}

describe('WeightedFairQueue', () => {
  it('alternates between tenants of the same weight whatever order they arrived in', () => {
    const queue = new WeightedFairQueue<string>(100);
    for (let i = 0; i < 4; i++) queue.push('a', 1, `a${i}`);
    for (let i = 0; i < 4; i++) queue.push('b', 1, `b${i}`);
    expect(drain(queue)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
  });

  it('gives a flow of twice the weight twice the releases while both wait', () => {
    const queue = new WeightedFairQueue<string>(100);
    for (let i = 0; i < 6; i++) queue.push('nightly', 1, 'batch');
    for (let i = 0; i < 6; i++) queue.push('web', 2, 'standard');
    const order = drain(queue);
    expect(order.slice(0, 6).filter((item) => item === 'standard')).toHaveLength(4);
    expect(order.slice(0, 9).filter((item) => item === 'standard')).toHaveLength(6);
  });

  it('does not let a flow with a backlog starve a newcomer', () => {
    const queue = new WeightedFairQueue<string>(100);
    for (let i = 0; i < 10; i++) queue.push('flood', 1, `f${i}`);
    expect(queue.pop()).toBe('f0');
    expect(queue.pop()).toBe('f1');
    queue.push('late', 1, 'late0');
    // The newcomer starts at the virtual time: it goes next to the flood's next item, not after all eight.
    expect(drain(queue).indexOf('late0')).toBeLessThanOrEqual(1);
  });

  it('is bounded, and removes an item that leaves early', () => {
    const queue = new WeightedFairQueue<string>(2);
    expect(queue.push('a', 1, 'x')).toBe(true);
    expect(queue.push('a', 1, 'y')).toBe(true);
    expect(queue.push('b', 4, 'z')).toBe(false);
    expect(queue.length).toBe(2);
    expect(queue.remove('x')).toBe(true);
    expect(queue.remove('x')).toBe(false);
    expect(queue.push('b', 4, 'z')).toBe(true);
    // z's flow has four times the weight and no backlog: its tag (0.25) is below y's (2).
    expect(drain(queue)).toEqual(['z', 'y']);
  });
});
