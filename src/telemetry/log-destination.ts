import type { DestinationStream } from 'pino';

/** What the coalescing layer writes to: pino's asynchronous destination (SonicBoom) in the gateway. */
export interface LineSink extends DestinationStream {
  flush(callback: (error?: Error | null) => void): void;
  flushSync(): void;
}

/**
 * Log lines written within one turn of the event loop go to the destination as one write.
 * Why: pino's asynchronous destination (SonicBoom) measures the UTF-8 length of the text it is
 * still holding on every write, so under load each line costs more the more lines wait before it
 * (≈ 10 µs of CPU per access line in the gateway's profile, against ≈ 5 µs coalesced). Lines wait
 * at most until the end of the current turn (`setImmediate`); `flush` and `flushSync` hand over
 * what waits first, so nothing written before them is lost or reordered.
 */
export class CoalescingDestination implements DestinationStream {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly sink: LineSink) {}

  write(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.handOver);
    }
  }

  /** Hands what waits to the destination, then flushes it (pino's `logger.flush(callback)`). */
  flush(callback: (error?: Error | null) => void): void {
    this.handOver();
    this.sink.flush(callback);
  }

  flushSync(): void {
    this.handOver();
    this.sink.flushSync();
  }

  private readonly handOver = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.sink.write(text);
  };
}
