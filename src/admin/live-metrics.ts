import type { InternalErrors } from '../errors/internal-errors.js';

/** What the broadcaster needs of a subscriber: a Node ServerResponse has all of it. */
export interface FrameSink {
  write(frame: Buffer): boolean;
  /** True while the sink's buffer is over its high-water mark: a frame written now would queue. */
  readonly writableNeedDrain: boolean;
  end(): void;
}

export interface LiveMetricsOptions {
  /** One frame for everybody: called once per tick, and only while someone is subscribed. */
  readonly frame: () => Buffer;
  readonly intervalMs: number;
  readonly internalErrors: InternalErrors;
}

/**
 * The once-a-second fan-out behind GET /api/v1/metrics/stream (and so the dashboard). Nothing
 * runs while nobody watches: the timer starts with the first subscriber and stops with the last.
 * Each tick builds one frame and writes the same bytes to every subscriber, so ten dashboards
 * cost one snapshot a second. A subscriber whose socket has not drained skips frames until it
 * has (the next frame it gets is the newest), so a slow client holds at most its socket buffer
 * and one frame, never a growing queue.
 */
export class LiveMetricsBroadcaster {
  private readonly subscribers = new Set<FrameSink>();
  private timer: NodeJS.Timeout | undefined;
  /** The last tick's frame, so a subscriber joining between ticks is not left blank for a second. */
  private lastFrame: Buffer | undefined;

  constructor(private readonly options: LiveMetricsOptions) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Whether the tick timer is running (only while someone is subscribed). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Starts sending frames to `sink` (at once: the last frame, or a first tick); returns the unsubscribe. */
  subscribe(sink: FrameSink): () => void {
    this.subscribers.add(sink);
    if (this.timer === undefined) {
      this.timer = setInterval(this.options.internalErrors.guard('live_metrics', () => this.tick()), this.options.intervalMs);
      // The open connections keep the process alive while there are subscribers; the timer must not.
      this.timer.unref();
      this.options.internalErrors.run('live_metrics', () => this.tick());
    } else if (this.lastFrame !== undefined) {
      this.options.internalErrors.run('live_metrics', () => sink.write(this.lastFrame!));
    }
    return () => this.unsubscribe(sink);
  }

  unsubscribe(sink: FrameSink): void {
    if (!this.subscribers.delete(sink) || this.subscribers.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.lastFrame = undefined;
  }

  /** Ends every subscriber's response (the listener is closing: a stream never finishes by itself). */
  closeAll(): void {
    for (const sink of [...this.subscribers]) {
      this.unsubscribe(sink);
      this.options.internalErrors.run('live_metrics', () => sink.end());
    }
  }

  private tick(): void {
    const frame = this.options.frame();
    this.lastFrame = frame;
    for (const sink of this.subscribers) {
      if (sink.writableNeedDrain) continue;
      this.options.internalErrors.run('live_metrics', () => sink.write(frame));
    }
  }
}

/** One server-sent event carrying `value` as JSON. */
export function sseFrame(value: unknown): Buffer {
  return Buffer.from(`data: ${JSON.stringify(value)}\n\n`, 'utf8');
}
