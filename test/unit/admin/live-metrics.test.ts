import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FrameSink, LiveMetricsBroadcaster, sseFrame } from '../../../src/admin/live-metrics.js';
import { InternalErrors } from '../../../src/errors/internal-errors.js';

/** A subscriber that records what it was sent; `needDrain` plays a socket whose buffer is full. */
class RecordingSink implements FrameSink {
  readonly frames: string[] = [];
  ended = false;
  needDrain = false;
  get writableNeedDrain(): boolean {
    return this.needDrain;
  }
  write(frame: Buffer): boolean {
    this.frames.push(frame.toString('utf8'));
    return true;
  }
  end(): void {
    this.ended = true;
  }
}

function capturedErrors(): { internalErrors: InternalErrors; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { internalErrors: new InternalErrors(log), lines };
}

/** A broadcaster whose frames say how many snapshots were computed so far. */
function counting(): { broadcaster: LiveMetricsBroadcaster; computations: () => number; lines: Record<string, unknown>[] } {
  let computations = 0;
  const { internalErrors, lines } = capturedErrors();
  const broadcaster = new LiveMetricsBroadcaster({ frame: () => sseFrame({ n: ++computations }), intervalMs: 1_000, internalErrors });
  return { broadcaster, computations: () => computations, lines };
}

describe('LiveMetricsBroadcaster', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does nothing while nobody is subscribed: no timer, no snapshot', () => {
    const { broadcaster, computations } = counting();
    expect(broadcaster.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(computations()).toBe(0);
  });

  it('starts with the first subscriber (a frame at once), then one frame a second', () => {
    const { broadcaster, computations } = counting();
    const sink = new RecordingSink();
    broadcaster.subscribe(sink);
    expect(broadcaster.running).toBe(true);
    expect(sink.frames).toEqual(['data: {"n":1}\n\n']);
    vi.advanceTimersByTime(3_000);
    expect(sink.frames).toEqual(['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: {"n":3}\n\n', 'data: {"n":4}\n\n']);
    expect(computations()).toBe(4);
  });

  it('computes one snapshot per tick however many subscribers there are, and sends each the same bytes', () => {
    const { broadcaster, computations } = counting();
    const sinks = Array.from({ length: 10 }, () => new RecordingSink());
    for (const sink of sinks) broadcaster.subscribe(sink);
    // The first subscriber started the timer with a tick; the other nine got that frame again.
    expect(computations()).toBe(1);
    vi.advanceTimersByTime(5_000);
    expect(computations()).toBe(6);
    for (const sink of sinks) expect(sink.frames).toEqual([1, 2, 3, 4, 5, 6].map((n) => `data: {"n":${n}}\n\n`));
  });

  it('a subscriber joining between ticks gets the last frame without a new computation', () => {
    const { broadcaster, computations } = counting();
    broadcaster.subscribe(new RecordingSink());
    vi.advanceTimersByTime(1_500);
    const late = new RecordingSink();
    broadcaster.subscribe(late);
    expect(late.frames).toEqual(['data: {"n":2}\n\n']);
    expect(computations()).toBe(2);
  });

  it('stops the timer when the last subscriber leaves, and starts afresh for the next', () => {
    const { broadcaster, computations } = counting();
    const first = new RecordingSink();
    const second = new RecordingSink();
    const unsubscribeFirst = broadcaster.subscribe(first);
    const unsubscribeSecond = broadcaster.subscribe(second);
    vi.advanceTimersByTime(1_000);
    unsubscribeFirst();
    expect(broadcaster.running).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(first.frames).toHaveLength(2);
    expect(second.frames).toHaveLength(3);
    unsubscribeSecond();
    // Twice is harmless (a 'close' after closeAll, say).
    unsubscribeSecond();
    expect(broadcaster.running).toBe(false);
    expect(broadcaster.subscriberCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(computations()).toBe(3);
    // A new subscriber after the idle time gets a fresh frame, not the stale one.
    const third = new RecordingSink();
    broadcaster.subscribe(third);
    expect(third.frames).toEqual(['data: {"n":4}\n\n']);
  });

  it('skips a subscriber whose socket has not drained (no queue grows), and sends it the newest frame once it has', () => {
    const { broadcaster } = counting();
    const fast = new RecordingSink();
    const slow = new RecordingSink();
    broadcaster.subscribe(fast);
    broadcaster.subscribe(slow);
    slow.needDrain = true;
    vi.advanceTimersByTime(5_000);
    expect(fast.frames).toHaveLength(6);
    expect(slow.frames).toEqual(['data: {"n":1}\n\n']);
    slow.needDrain = false;
    vi.advanceTimersByTime(1_000);
    expect(slow.frames).toEqual(['data: {"n":1}\n\n', 'data: {"n":7}\n\n']);
  });

  it('closeAll ends every response and stops the timer', () => {
    const { broadcaster } = counting();
    const sinks = [new RecordingSink(), new RecordingSink()];
    for (const sink of sinks) broadcaster.subscribe(sink);
    broadcaster.closeAll();
    expect(sinks.map((sink) => sink.ended)).toEqual([true, true]);
    expect(broadcaster.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a failing snapshot is reported under live_metrics and the timer keeps going', () => {
    const { internalErrors, lines } = capturedErrors();
    let calls = 0;
    const broadcaster = new LiveMetricsBroadcaster({
      frame: () => {
        calls += 1;
        if (calls === 2) throw new Error('snapshot broke');
        return sseFrame({ calls });
      },
      intervalMs: 1_000,
      internalErrors,
    });
    const sink = new RecordingSink();
    broadcaster.subscribe(sink);
    vi.advanceTimersByTime(2_000);
    expect(sink.frames).toEqual(['data: {"calls":1}\n\n', 'data: {"calls":3}\n\n']);
    expect(lines.filter((line) => line.stage === 'live_metrics')).toHaveLength(1);
  });

  it('a subscriber whose write throws does not keep the others from their frame', () => {
    const { internalErrors, lines } = capturedErrors();
    const broadcaster = new LiveMetricsBroadcaster({ frame: () => sseFrame({}), intervalMs: 1_000, internalErrors });
    const broken = new RecordingSink();
    broken.write = () => {
      throw new Error('socket gone');
    };
    const fine = new RecordingSink();
    broadcaster.subscribe(broken);
    broadcaster.subscribe(fine);
    vi.advanceTimersByTime(1_000);
    expect(fine.frames).toHaveLength(2);
    expect(lines.filter((line) => line.stage === 'live_metrics').length).toBeGreaterThan(0);
  });
});
