import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CoalescingDestination, type LineSink } from '../../../src/telemetry/log-destination.js';

function recordingSink(): { sink: LineSink; writes: string[]; events: string[] } {
  const writes: string[] = [];
  const events: string[] = [];
  const sink: LineSink = {
    write: (text: string) => {
      writes.push(text);
      events.push('write');
    },
    flush: (callback) => {
      events.push('flush');
      callback();
    },
    flushSync: () => void events.push('flushSync'),
  };
  return { sink, writes, events };
}

describe('CoalescingDestination', () => {
  it('hands the lines of one event-loop turn to the destination as one write, in order', async () => {
    const { sink, writes } = recordingSink();
    const destination = new CoalescingDestination(sink);
    destination.write('a\n');
    destination.write('b\n');
    destination.write('c\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n']);
    destination.write('d\n');
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('hands over what waits before flushing, asynchronously or synchronously', async () => {
    const { sink, writes, events } = recordingSink();
    const destination = new CoalescingDestination(sink);
    destination.write('a\n');
    await new Promise<void>((done) => destination.flush(() => done()));
    expect(writes).toEqual(['a\n']);
    destination.write('b\n');
    destination.flushSync();
    expect(writes).toEqual(['a\n', 'b\n']);
    expect(events).toEqual(['write', 'flush', 'write', 'flushSync']);
    // Nothing is written twice when the scheduled hand-over runs after a flush.
    await nextTurn();
    expect(writes).toEqual(['a\n', 'b\n']);
  });
});
