import { describe, expect, it } from 'vitest';
import { HashRing } from '../../../src/routing/hash-ring.js';
import { stableHash32 } from '../../../src/routing/stable-hash.js';

const FIVE = ['replica-a', 'replica-b', 'replica-c', 'replica-d', 'replica-e'];
const KEYS = Array.from({ length: 10_000 }, (_, i) => stableHash32(`conversation-${i}`));

function owners(ring: HashRing): string[] {
  return KEYS.map((key) => ring.members[ring.owner(key)]!);
}

describe('HashRing', () => {
  it('routes 10,000 keys to the same member on every call, and two independently built rings agree', () => {
    const ring = new HashRing(FIVE);
    const first = owners(ring);
    expect(owners(ring)).toEqual(first);
    // "Another process": a ring built separately, even from the members in another order.
    expect(owners(new HashRing(FIVE))).toEqual(first);
    expect(owners(new HashRing([...FIVE].reverse()))).toEqual(first);
  });

  it('pins the placement of a few keys (a change here moves sessions between gateway versions)', () => {
    const ring = new HashRing(FIVE);
    expect(KEYS.slice(0, 8).map((key) => ring.members[ring.owner(key)])).toEqual(PINNED_OWNERS);
  });

  it('moves only the removed member’s keys when one of five leaves', () => {
    const before = owners(new HashRing(FIVE));
    const after = owners(new HashRing(FIVE.filter((name) => name !== 'replica-c')));
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === 'replica-c') moved++;
      else expect(after[i]).toBe(before[i]);
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('moves at most about 1/6 of the keys when a sixth member joins, all of them to it', () => {
    const before = owners(new HashRing(FIVE));
    const after = owners(new HashRing([...FIVE, 'replica-f']));
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (after[i] === before[i]) continue;
      moved++;
      expect(after[i]).toBe('replica-f');
    }
    expect(moved / KEYS.length).toBeLessThanOrEqual(1 / 6 + 0.03);
    expect(moved / KEYS.length).toBeGreaterThan(1 / 6 - 0.06);
  });

  it('balances 10,000 keys over 5 members with 100 virtual nodes within ±25% of the mean', () => {
    // With v points per member a member's share has a relative spread of about 1/√v = 10%; the
    // bound is 2.5 standard deviations. Checked for a few naming schemes, not one lucky one.
    const fleets = [FIVE, ['10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.3:8000', '10.0.0.4:8000', '10.0.0.5:8000'], ['gpu0', 'gpu1', 'gpu2', 'gpu3', 'gpu4']];
    for (const fleet of fleets) {
      const ring = new HashRing(fleet, 100);
      const counts = new Array<number>(fleet.length).fill(0);
      for (const key of KEYS) counts[ring.owner(key)]!++;
      const mean = KEYS.length / fleet.length;
      const worst = Math.max(...counts.map((count) => Math.abs(count - mean) / mean));
      expect(worst, `${fleet.join(',')}: ${counts.join(' ')}`).toBeLessThan(0.25);
    }
  });

  it('walks every member once, starting at the key’s owner; a subset’s walk is the full walk without the missing', () => {
    const ring = new HashRing(FIVE);
    const subset = new HashRing(['replica-e', 'replica-b', 'replica-d']);
    for (const key of KEYS.slice(0, 500)) {
      const walk = [...ring.walk(key)];
      expect(walk).toHaveLength(5);
      expect(new Set(walk).size).toBe(5);
      expect(walk[0]).toBe(ring.members[ring.owner(key)]);
      expect([...subset.walk(key)]).toEqual(walk.filter((name) => subset.indexOf(name) >= 0));
    }
  });

  it('firstFit returns the first accepted member of the walk, or -1, and survives nested walks', () => {
    const ring = new HashRing(FIVE);
    for (const key of KEYS.slice(0, 200)) {
      const walk = [...ring.walk(key)].map((name) => ring.indexOf(name));
      const refused = new Set(walk.slice(0, 3));
      expect(ring.firstFit(key, (member, skip: Set<number>) => !skip.has(member), refused)).toBe(walk[3]);
      expect(ring.firstFit(key, () => false, undefined)).toBe(-1);
      // An accept function that walks the same ring (on another key) does not disturb the outer walk.
      const nested = ring.firstFit(
        key,
        (member, skip: Set<number>) => {
          ring.firstFit(key ^ 0x5555, (inner) => inner === walk[4], undefined);
          return !skip.has(member);
        },
        refused,
      );
      expect(nested).toBe(walk[3]);
    }
  });

  it('handles the edges: one member, no members, wrap-around keys; rejects duplicates and bad virtual-node counts', () => {
    const single = new HashRing(['only']);
    expect(single.owner(0)).toBe(0);
    expect(single.owner(0xffffffff)).toBe(0);
    expect([...single.walk(123)]).toEqual(['only']);
    const empty = new HashRing([]);
    expect(empty.owner(1)).toBe(-1);
    expect(empty.firstFit(1, () => true, undefined)).toBe(-1);
    expect([...empty.walk(1)]).toEqual([]);
    const ring = new HashRing(FIVE);
    // Keys past the last point belong to the first point's member; negative inputs are read as uint32.
    expect(ring.owner(0xffffffff)).toBe(ring.owner(0));
    expect(ring.owner(-1)).toBe(ring.owner(0xffffffff));
    expect(() => new HashRing(['a', 'a'])).toThrow(/duplicate/);
    expect(() => new HashRing(['a'], 0)).toThrow(RangeError);
    expect(() => new HashRing(['a'], 1.5)).toThrow(RangeError);
    expect(ring.members).toEqual(FIVE);
    expect(Object.isFrozen(ring.members)).toBe(true);
  });
});

const PINNED_OWNERS = ['replica-e', 'replica-e', 'replica-b', 'replica-c', 'replica-c', 'replica-b', 'replica-c', 'replica-e'];
