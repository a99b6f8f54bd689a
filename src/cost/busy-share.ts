/**
 * A replica's busy time, shared fairly among the requests that kept it busy: the integral of
 * 1 / (requests in flight) over time. A request's share is the integral's growth between its
 * start and its end, so the shares of all requests add up exactly to the replica's busy time,
 * at O(1) per event and with no per-request bookkeeping.
 */
export class BusyShareClock {
  private integralMs = 0;
  private active = 0;
  private lastAt = 0;

  /** A request starts; returns the integral's value to hand back to `end`. */
  begin(now: number): number {
    this.advance(now);
    this.active += 1;
    return this.integralMs;
  }

  /** The request that began at `startValue` ends; returns its share of busy time in ms. */
  end(now: number, startValue: number): number {
    this.advance(now);
    this.active = Math.max(0, this.active - 1);
    return this.integralMs - startValue;
  }

  get inFlight(): number {
    return this.active;
  }

  private advance(now: number): void {
    if (this.active > 0 && now > this.lastAt) this.integralMs += (now - this.lastAt) / this.active;
    this.lastAt = now;
  }
}
