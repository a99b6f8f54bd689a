import { AggregateSet } from './aggregate-set.js';

/** One slot of the window: the requests that ended in [index·slotMs, (index+1)·slotMs). */
export class TimeSlot {
  index = Number.NEGATIVE_INFINITY;
  /** Highest concurrency seen while this slot was current (starting from the level it opened with). */
  peakConcurrency = 0;
  readonly aggregates = new AggregateSet('slot');

  open(index: number, concurrency: number): void {
    this.index = index;
    this.peakConcurrency = concurrency;
    this.aggregates.reset();
  }
}

/**
 * A ring of `slotCount` slots keyed by floor(t / slotMs). A slot is reset lazily when a later
 * time maps onto its position; nothing runs on a timer. The slots live at a time `now` are those
 * with index in (floor(now/slotMs) − slotCount, floor(now/slotMs)], so the window is
 * slot-granular: it covers between (slotCount − 1)·slotMs and slotCount·slotMs of history.
 */
export class TimeSlotRing {
  private readonly slots: Array<TimeSlot | undefined>;

  constructor(
    readonly slotMs: number,
    readonly slotCount: number,
  ) {
    this.slots = new Array<TimeSlot | undefined>(slotCount).fill(undefined);
  }

  /**
   * The slot to write at `timeMs`, opened (reset) if its position held an older index;
   * undefined when the time is too old for the ring (a newer slot already took its position).
   */
  slotFor(timeMs: number, concurrency: number): TimeSlot | undefined {
    if (!Number.isFinite(timeMs)) return undefined;
    const index = Math.floor(timeMs / this.slotMs);
    const position = this.positionOf(index);
    let slot = this.slots[position];
    if (slot === undefined) {
      slot = new TimeSlot();
      this.slots[position] = slot;
    }
    if (slot.index === index) return slot;
    if (slot.index > index) return undefined;
    slot.open(index, concurrency);
    return slot;
  }

  /** The slots that hold requests of the window ending at `nowMs`. */
  liveSlots(nowMs: number): TimeSlot[] {
    const newest = Math.floor(nowMs / this.slotMs);
    const live: TimeSlot[] = [];
    for (const slot of this.slots) {
      if (slot !== undefined && slot.index <= newest && slot.index > newest - this.slotCount) live.push(slot);
    }
    return live;
  }

  /** Where the window ending at `nowMs` begins: the start of its oldest slot. */
  windowStartMs(nowMs: number): number {
    return (Math.floor(nowMs / this.slotMs) - this.slotCount + 1) * this.slotMs;
  }

  /**
   * Slot `index` if the ring still holds it: the slot itself, 'empty' when its position holds an
   * older index (nothing was written during it), undefined when a newer slot took its position.
   */
  slotAt(index: number): TimeSlot | 'empty' | undefined {
    const slot = this.slots[this.positionOf(index)];
    if (slot === undefined || slot.index < index) return 'empty';
    return slot.index === index ? slot : undefined;
  }

  allocatedSlots(): TimeSlot[] {
    return this.slots.filter((slot): slot is TimeSlot => slot !== undefined);
  }

  private positionOf(index: number): number {
    return ((index % this.slotCount) + this.slotCount) % this.slotCount;
  }
}
