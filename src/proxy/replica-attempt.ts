import type { Replica } from '../routing/replica.js';

/**
 * One try of a request on one replica: the replica's in-flight count and busy-time share, its
 * "waiting for headers" count, and the circuit breaker's view of how the try went. Each method
 * is safe to call more than once; only the first call counts.
 */
export class ReplicaAttempt {
  private readonly loadStart: number;
  private awaitingHeaders = true;
  private settled = false;
  private ended = false;

  constructor(
    readonly replica: Replica,
    now: number,
  ) {
    this.loadStart = replica.load.begin(now);
    replica.awaitingHeaders += 1;
  }

  /** The replica answered: a 5xx counts against it, anything else for it. */
  answered(status: number, now: number): void {
    this.headersDone();
    this.settle(status >= 500 ? 'failure' : 'success', now);
  }

  /** The replica could not be reached, or broke the connection. */
  failed(now: number): void {
    this.headersDone();
    this.settle('failure', now);
  }

  /** The client left first: the try says nothing about the replica. */
  abandoned(now: number): void {
    this.headersDone();
    this.settle('abandoned', now);
  }

  /** The try is over; returns its share of the replica's busy time (ms). */
  end(now: number): number {
    this.headersDone();
    if (this.ended) return 0;
    this.ended = true;
    return this.replica.load.end(now, this.loadStart);
  }

  private headersDone(): void {
    if (!this.awaitingHeaders) return;
    this.awaitingHeaders = false;
    this.replica.awaitingHeaders -= 1;
  }

  private settle(outcome: 'success' | 'failure' | 'abandoned', now: number): void {
    if (this.settled) return;
    this.settled = true;
    const circuit = this.replica.circuit;
    if (outcome === 'success') circuit.onSuccess(now);
    else if (outcome === 'failure') circuit.onFailure(now);
    else circuit.onAbandoned(now);
  }
}
