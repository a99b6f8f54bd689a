import { stableHash32 } from './stable-hash.js';

/** Virtual nodes per member unless told otherwise: keeps each member's share within about ±10% (1/√100). */
export const DEFAULT_VIRTUAL_NODES = 100;

/**
 * A consistent-hash ring over named members (replicas). Each member owns `virtualNodes` points at
 * `stableHash32(`${member}#${i}`)`; a key belongs to the first point at or after its hash, and the
 * walk from there (each member once, in the order their points follow) is the key's failover and
 * overflow order.
 *
 * The points depend only on the member names, never on their order or on the process, so two
 * gateways with the same members agree on every key, and adding or removing a member moves only the
 * keys it gains or loses. The walk over a subset of the members equals the walk over all of them
 * with the missing ones skipped.
 *
 * Immutable once built; lookups are a binary search and allocate nothing (`owner`, `firstFit`).
 * Build one per candidate set and reuse it; building costs O(n·v·log(n·v)).
 */
export class HashRing {
  /** The members, in the order given; member indexes refer to this array. */
  readonly members: readonly string[];
  readonly virtualNodes: number;
  /** Point positions, ascending. */
  private readonly points: Uint32Array;
  /** The member index owning each point. */
  private readonly owners: Uint32Array;
  /** Walk scratch: `seen[m] === epoch` marks member m as visited in the current walk. */
  private readonly seen: Uint32Array;
  private epoch = 0;
  private walking = false;
  private readonly indexByName: ReadonlyMap<string, number>;

  constructor(members: readonly string[], virtualNodes: number = DEFAULT_VIRTUAL_NODES) {
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1) {
      throw new RangeError(`virtualNodes must be a positive integer, got ${virtualNodes}`);
    }
    const indexByName = new Map<string, number>();
    members.forEach((name, index) => {
      if (indexByName.has(name)) throw new RangeError(`duplicate ring member \`${name}\``);
      indexByName.set(name, index);
    });
    this.members = Object.freeze([...members]);
    this.virtualNodes = virtualNodes;
    this.indexByName = indexByName;

    const total = members.length * virtualNodes;
    const positions = new Uint32Array(total);
    const order = new Uint32Array(total);
    for (let m = 0; m < members.length; m++) {
      for (let i = 0; i < virtualNodes; i++) {
        const point = m * virtualNodes + i;
        positions[point] = stableHash32(`${members[m]}#${i}`);
        order[point] = point;
      }
    }
    // Equal positions (rare) are ordered by member name, then vnode number: never by the order the
    // members were given in, which may differ between processes.
    order.sort((a, b) => {
      const byPosition = positions[a]! - positions[b]!;
      if (byPosition !== 0) return byPosition;
      const nameA = members[Math.floor(a / virtualNodes)]!;
      const nameB = members[Math.floor(b / virtualNodes)]!;
      if (nameA !== nameB) return nameA < nameB ? -1 : 1;
      return (a % virtualNodes) - (b % virtualNodes);
    });
    this.points = new Uint32Array(total);
    this.owners = new Uint32Array(total);
    for (let p = 0; p < total; p++) {
      const point = order[p]!;
      this.points[p] = positions[point]!;
      this.owners[p] = Math.floor(point / virtualNodes);
    }
    this.seen = new Uint32Array(members.length);
  }

  get size(): number {
    return this.members.length;
  }

  /** The member's index, or -1. */
  indexOf(name: string): number {
    return this.indexByName.get(name) ?? -1;
  }

  /** The index of the member that owns the key (the first of its walk); -1 on an empty ring. */
  owner(keyHash: number): number {
    if (this.points.length === 0) return -1;
    return this.owners[this.firstPoint(keyHash)]!;
  }

  /**
   * The first member in the key's walk that `accept` takes, or -1 if it takes none. Allocates
   * nothing, unless `accept` itself starts a walk on this ring (then the inner walk gets its own
   * scratch). Pass `context` rather than capturing, to keep the call free of closures.
   */
  firstFit<C>(keyHash: number, accept: (memberIndex: number, context: C) => boolean, context: C): number {
    const n = this.members.length;
    if (n === 0) return -1;
    const owners = this.owners;
    const total = owners.length;
    let point = this.firstPoint(keyHash);
    // Fast path: most keys are taken by their owner.
    const first = owners[point]!;
    if (accept(first, context)) return first;
    if (n === 1) return -1;

    const nested = this.walking;
    const seen = nested ? new Uint32Array(n) : this.seen;
    let epoch = 1;
    if (!nested) {
      this.walking = true;
      if (this.epoch === 0xffffffff) {
        seen.fill(0);
        this.epoch = 0;
      }
      epoch = ++this.epoch;
    }
    try {
      seen[first] = epoch;
      let visited = 1;
      // Every member has a point, so the walk meets all n members within one turn of the ring.
      for (let step = 1; step < total && visited < n; step++) {
        point = point + 1 === total ? 0 : point + 1;
        const member = owners[point]!;
        if (seen[member] === epoch) continue;
        seen[member] = epoch;
        visited++;
        if (accept(member, context)) return member;
      }
      return -1;
    } finally {
      if (!nested) this.walking = false;
    }
  }

  /** The key's walk: every member once, in ring order from the key. For traces and tests (allocates). */
  *walk(keyHash: number): IterableIterator<string> {
    const n = this.members.length;
    if (n === 0) return;
    const total = this.owners.length;
    const seen = new Uint8Array(n);
    let visited = 0;
    let point = this.firstPoint(keyHash);
    for (let step = 0; step < total && visited < n; step++, point = point + 1 === total ? 0 : point + 1) {
      const member = this.owners[point]!;
      if (seen[member] === 1) continue;
      seen[member] = 1;
      visited++;
      yield this.members[member]!;
    }
  }

  /** Index of the first point at or after the key's position, wrapping to 0 past the last. */
  private firstPoint(keyHash: number): number {
    const points = this.points;
    const key = keyHash >>> 0;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (points[mid]! < key) low = mid + 1;
      else high = mid;
    }
    return low === points.length ? 0 : low;
  }
}
