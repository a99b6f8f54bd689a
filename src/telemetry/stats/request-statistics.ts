import { Aggregate, prepareRequest } from './aggregate.js';
import { AggregateSet } from './aggregate-set.js';
import type { CompletedRequest } from './completed-request.js';
import { type Alert, buildMetricsSnapshot, type MetricsApiResponse, type ReplicaFiguresInput } from './snapshot.js';
import { TimeSlotRing } from './time-slots.js';

export interface RequestStatisticsOptions {
  /** The sliding window, default 5 minutes; a whole multiple of slotMs. */
  readonly windowMs?: number;
  /** The window's granularity, default 10 seconds. */
  readonly slotMs?: number;
  readonly currency: string;
  /** Wall clock (Date.now()) when the gateway started. */
  readonly startedAtMs: number;
}

/** One model's requests in the window, for the capacity planner (src/analytics/capacity/). */
export interface ModelWindow {
  /** The window's requests merged. */
  readonly aggregate: Aggregate;
  /** Requests ended per whole slot, oldest first: the current (partial) slot and slots before the start left out. */
  readonly slotCounts: readonly number[];
}

export interface ModelWindows {
  readonly slotMs: number;
  /** The time the merged figures cover (as the snapshot's span_seconds), ms. */
  readonly spanMs: number;
  readonly models: ReadonlyMap<string, ModelWindow>;
}

export interface StatisticsFootprint {
  readonly slots: number;
  readonly aggregates: number;
  /** Bytes of the fixed-size histogram arrays. */
  readonly bytes: number;
}

/**
 * Windowed and since-start request statistics for GET /api/v1/metrics. Pure: no I/O, no timers;
 * every method takes the time. Memory is bounded by slots × (1 + models + replicas) aggregates of
 * fixed size (about 5 KB per slot aggregate, 10 KB per cumulative one; see log-histogram.ts for
 * the percentile error bound); nothing grows with the number of requests.
 */
export class RequestStatistics {
  private readonly windowMs: number;
  private readonly currency: string;
  private readonly startedAtMs: number;
  private readonly ring: TimeSlotRing;
  private readonly sinceStart = new AggregateSet('cumulative');
  private readonly emptySlot = new AggregateSet('slot');
  private concurrency = 0;
  private peakConcurrency = 0;

  constructor(options: RequestStatisticsOptions) {
    const windowMs = options.windowMs ?? 300_000;
    const slotMs = options.slotMs ?? 10_000;
    if (!Number.isInteger(slotMs) || slotMs <= 0 || !Number.isInteger(windowMs) || windowMs < slotMs || windowMs % slotMs !== 0) {
      throw new RangeError('RequestStatistics: windowMs must be a positive whole multiple of slotMs (integers)');
    }
    this.windowMs = windowMs;
    this.currency = options.currency;
    this.startedAtMs = options.startedAtMs;
    this.ring = new TimeSlotRing(slotMs, windowMs / slotMs);
  }

  record(request: CompletedRequest): void {
    const prepared = prepareRequest(request);
    this.sinceStart.add(prepared);
    // A request older than the ring can hold counts since start only.
    this.ring.slotFor(request.endedAtMs, this.concurrency)?.aggregates.add(prepared);
  }

  requestStarted(nowMs: number): void {
    const slot = this.ring.slotFor(nowMs, this.concurrency);
    this.concurrency += 1;
    if (this.concurrency > this.peakConcurrency) this.peakConcurrency = this.concurrency;
    if (slot !== undefined && this.concurrency > slot.peakConcurrency) slot.peakConcurrency = this.concurrency;
  }

  requestEnded(nowMs: number): void {
    this.ring.slotFor(nowMs, this.concurrency);
    if (this.concurrency > 0) this.concurrency -= 1;
  }

  /**
   * The JSON of GET /api/v1/metrics now. `replicas` are the fleet's live figures (engine and GPU
   * scrapes, in flight), `alerts` the firing alerts; see {@link buildMetricsSnapshot}.
   */
  snapshot(nowMs: number, replicas: readonly ReplicaFiguresInput[] = [], alerts: readonly Alert[] = []): MetricsApiResponse {
    const window = new AggregateSet('cumulative');
    window.includeNames(this.sinceStart.byModel.keys(), this.sinceStart.byReplica.keys(), this.sinceStart.byTenant.keys());
    // Between events concurrency stays as it is now, or as it was when the next slot opened.
    let windowPeak = this.concurrency;
    for (const slot of this.ring.liveSlots(nowMs)) {
      window.merge(slot.aggregates);
      if (slot.peakConcurrency > windowPeak) windowPeak = slot.peakConcurrency;
    }
    const uptimeMs = Math.max(0, nowMs - this.startedAtMs);
    const windowSpanMs = this.windowSpanMs(nowMs);
    return buildMetricsSnapshot({
      nowMs,
      startedAtMs: this.startedAtMs,
      windowMs: this.windowMs,
      currency: this.currency,
      window: { set: window, spanMs: windowSpanMs, peakConcurrency: windowPeak },
      sinceStart: { set: this.sinceStart, spanMs: uptimeMs, peakConcurrency: this.peakConcurrency },
      replicas,
      alerts,
    });
  }

  /** The slot length the window is kept in. */
  get slotMs(): number {
    return this.ring.slotMs;
  }

  /**
   * The aggregates of slot `index` (requests that ended in [index·slotMs, (index+1)·slotMs)) once
   * it is closed at `nowMs`, for readers on a timer such as the anomaly detectors: undefined while
   * it is open or once the ring no longer holds it. Read it at once: the ring reuses the slot later.
   */
  closedSlot(index: number, nowMs: number): AggregateSet | undefined {
    if (index >= Math.floor(nowMs / this.ring.slotMs) || index <= Math.floor(nowMs / this.ring.slotMs) - this.ring.slotCount) return undefined;
    const slot = this.ring.slotAt(index);
    return slot === 'empty' ? this.emptySlot : slot?.aggregates;
  }

  /** Per model seen since start: the window's merged figures and its per-slot request counts. */
  modelWindows(nowMs: number): ModelWindows {
    const slotMs = this.ring.slotMs;
    const current = Math.floor(nowMs / slotMs);
    const first = Math.max(Math.ceil(this.startedAtMs / slotMs), current - this.ring.slotCount + 1);
    const models = new Map<string, { aggregate: Aggregate; slotCounts: number[] }>();
    for (const name of this.sinceStart.byModel.keys()) {
      models.set(name, { aggregate: new Aggregate('cumulative'), slotCounts: new Array<number>(Math.max(0, current - first)).fill(0) });
    }
    for (const slot of this.ring.liveSlots(nowMs)) {
      for (const [name, aggregate] of slot.aggregates.byModel) {
        const model = models.get(name);
        if (model === undefined || aggregate.total === 0) continue;
        model.aggregate.merge(aggregate);
        if (slot.index >= first && slot.index < current) model.slotCounts[slot.index - first] = aggregate.total;
      }
    }
    return { slotMs, spanMs: this.windowSpanMs(nowMs), models };
  }

  /** The time the window ending at `nowMs` covers: from its oldest slot, or the start if later. */
  private windowSpanMs(nowMs: number): number {
    return Math.max(0, nowMs - Math.max(this.startedAtMs, this.ring.windowStartMs(nowMs)));
  }

  /** What the statistics hold in memory (for tests and diagnostics). */
  footprint(): StatisticsFootprint {
    const slots = this.ring.allocatedSlots();
    let aggregates = this.sinceStart.aggregateCount;
    let bytes = this.sinceStart.byteLength;
    for (const slot of slots) {
      aggregates += slot.aggregates.aggregateCount;
      bytes += slot.aggregates.byteLength;
    }
    return { slots: slots.length, aggregates, bytes };
  }
}
