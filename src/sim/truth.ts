/** What really happened to each request, recorded by the simulator for tests and benchmarks. */

export type TruthOutcome = 'completed' | 'client_closed' | 'fault' | 'error';

export interface TruthRecord {
  requestId: string;
  endpoint: string;
  model: string | null;
  stream: boolean;
  promptTokens: number;
  cachedPromptTokens: number;
  completionTokens: number;
  /** Epoch ms (sub-ms precision) for all times below. */
  receivedAt: number;
  headersSentAt: number | null;
  firstTokenAt: number | null;
  /** Write time of each content chunk (streams only). */
  chunkTimes: number[];
  /** Tokens carried by each content chunk, parallel to chunkTimes. */
  tokensPerChunkWritten: number[];
  finishedAt: number | null;
  finishReason: string | null;
  /** null while the request is still in flight. */
  outcome: TruthOutcome | null;
  /** HTTP status sent (0 when no headers were sent). */
  status: number;
  /** The fault applied, e.g. `error:503`, `disconnect:3`, when one was. */
  fault: string | null;
  clientClosedAt?: number;
}

/** A request's record as it arrives, before anything has happened to it. */
export function newTruthRecord(requestId: string, endpoint: string, receivedAt: number): TruthRecord {
  return {
    requestId,
    endpoint,
    model: null,
    stream: false,
    promptTokens: 0,
    cachedPromptTokens: 0,
    completionTokens: 0,
    receivedAt,
    headersSentAt: null,
    firstTokenAt: null,
    chunkTimes: [],
    tokensPerChunkWritten: [],
    finishedAt: null,
    finishReason: null,
    outcome: null,
    status: 0,
    fault: null,
  };
}

type Waiter = (record: TruthRecord) => void;

export class GroundTruth {
  // Map insertion order doubles as age order for eviction.
  private readonly records = new Map<string, TruthRecord>();
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(private readonly capacity: number) {}

  /** Registers a new in-flight request (replacing an older record with the same id). */
  begin(record: TruthRecord): TruthRecord {
    this.records.delete(record.requestId);
    this.records.set(record.requestId, record);
    if (this.records.size > this.capacity) {
      const oldest = this.records.keys().next();
      if (oldest.done !== true) this.records.delete(oldest.value);
    }
    return record;
  }

  /** Marks a record finished once; later calls are ignored so the first outcome wins. */
  finish(record: TruthRecord, outcome: TruthOutcome, at: number): void {
    if (record.outcome !== null) return;
    record.outcome = outcome;
    record.finishedAt = at;
    const waiting = this.waiters.get(record.requestId);
    if (waiting !== undefined) {
      this.waiters.delete(record.requestId);
      for (const wake of waiting) wake(record);
    }
  }

  get(requestId: string): TruthRecord | undefined {
    return this.records.get(requestId);
  }

  all(): TruthRecord[] {
    return [...this.records.values()];
  }

  clear(): void {
    this.records.clear();
  }

  /** Resolves when the request has finished or the client closed; rejects after timeoutMs. */
  waitFor(requestId: string, timeoutMs = 10_000): Promise<TruthRecord> {
    const existing = this.records.get(requestId);
    if (existing !== undefined && existing.outcome !== null) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(requestId) ?? [];
      const waiter: Waiter = (record) => {
        clearTimeout(timer);
        resolve(record);
      };
      const timer = setTimeout(() => {
        const current = this.waiters.get(requestId);
        if (current !== undefined) {
          const rest = current.filter((w) => w !== waiter);
          if (rest.length > 0) this.waiters.set(requestId, rest);
          else this.waiters.delete(requestId);
        }
        reject(new Error(`truth for request ${requestId} not finished within ${timeoutMs} ms`));
      }, timeoutMs);
      list.push(waiter);
      this.waiters.set(requestId, list);
    });
  }
}
