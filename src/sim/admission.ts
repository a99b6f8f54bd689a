/**
 * vLLM's scheduler in miniature: at most `maxRunning` sequences run at once; the rest wait in
 * FIFO order. Counts are kept per model for the running/waiting gauges.
 */
export interface AdmissionTicket {
  readonly model: string;
  /** Called once when the request may start (synchronously if a slot is free). */
  readonly onAdmit: () => void;
  state: 'waiting' | 'running' | 'done';
}

export class Admission {
  private readonly queue: AdmissionTicket[] = [];
  private queueHead = 0;
  private runningTotal = 0;
  private readonly runningByModel = new Map<string, number>();
  private readonly waitingByModel = new Map<string, number>();

  constructor(private readonly maxRunning: number) {}

  running(model: string): number {
    return this.runningByModel.get(model) ?? 0;
  }

  waiting(model: string): number {
    return this.waitingByModel.get(model) ?? 0;
  }

  get totalRunning(): number {
    return this.runningTotal;
  }

  acquire(model: string, onAdmit: () => void): AdmissionTicket {
    const ticket: AdmissionTicket = { model, onAdmit, state: 'waiting' };
    if (this.runningTotal < this.maxRunning && this.queueHead === this.queue.length) {
      this.start(ticket);
    } else {
      this.queue.push(ticket);
      bump(this.waitingByModel, model, 1);
    }
    return ticket;
  }

  /** Releases a running slot or withdraws a waiting ticket; safe to call twice. */
  release(ticket: AdmissionTicket): void {
    if (ticket.state === 'running') {
      this.runningTotal--;
      bump(this.runningByModel, ticket.model, -1);
      ticket.state = 'done';
      this.admitWaiting();
    } else if (ticket.state === 'waiting') {
      // Left in the array and skipped when reached: O(1) withdrawal.
      bump(this.waitingByModel, ticket.model, -1);
      ticket.state = 'done';
    }
  }

  private start(ticket: AdmissionTicket): void {
    ticket.state = 'running';
    this.runningTotal++;
    bump(this.runningByModel, ticket.model, 1);
    ticket.onAdmit();
  }

  private admitWaiting(): void {
    while (this.runningTotal < this.maxRunning && this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead] as AdmissionTicket;
      this.queueHead++;
      if (next.state !== 'waiting') continue;
      bump(this.waitingByModel, next.model, -1);
      this.start(next);
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}

function bump(counts: Map<string, number>, key: string, delta: number): void {
  counts.set(key, (counts.get(key) ?? 0) + delta);
}
