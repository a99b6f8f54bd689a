import { ExportResultCode, type ExportResult } from '@opentelemetry/core';

/** OTEL_BSP_* as the SDK's batch span processor reads them (queue 2048, delay 5000 ms, timeout 30000 ms, batch 512 by default). */
export interface BatchSettings {
  readonly maxQueueSize: number;
  readonly scheduledDelayMillis: number;
  readonly exportTimeoutMillis: number;
  readonly maxExportBatchSize: number;
}

/** The batch processor's settings from OTEL_BSP_*: a value that is not a positive number leaves the SDK's default. */
export function batchSettingsFromEnv(env: NodeJS.ProcessEnv): BatchSettings {
  return {
    maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE) ?? 2048,
    scheduledDelayMillis: positive(env.OTEL_BSP_SCHEDULE_DELAY) ?? 5000,
    exportTimeoutMillis: positive(env.OTEL_BSP_EXPORT_TIMEOUT) ?? 30000,
    maxExportBatchSize: positive(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE) ?? 512,
  };
}

function positive(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/**
 * Request spans waiting for export in the export thread, batched as the SDK's batch span
 * processor batches: a batch goes when `maxExportBatchSize` spans wait or `scheduledDelayMillis`
 * after the first one waited; one export at a time; an export that has not answered within
 * `exportTimeoutMillis` counts as failed. What waits are items of one span or more (a request's
 * spans, as facts): a batch takes whole items, as many as keep it within `maxExportBatchSize`
 * spans (at least one). The queue's bound is kept by whoever adds (the event loop counts the
 * spans it handed over and not yet settled, see `ThreadedOtlpExporter`), so `add` never refuses.
 * Each export's outcome, with its span count, goes to `settled`.
 */
export class SpanBatcher<T> {
  private readonly queue: T[] = [];
  /** Spans of the items in `queue`. */
  private queuedSpans = 0;
  private exporting = false;
  private timer: NodeJS.Timeout | undefined;
  /** Callers of `flush` waiting for the queue and the export in flight to empty. */
  private readonly drained: (() => void)[] = [];

  constructor(
    private readonly settings: BatchSettings,
    private readonly spansOf: (item: T) => number,
    private readonly exportBatch: (items: T[], spans: number, done: (result: ExportResult) => void) => void,
    private readonly settled: (result: ExportResult, spans: number) => void,
  ) {}

  add(items: readonly T[]): void {
    for (const item of items) {
      this.queue.push(item);
      this.queuedSpans += this.spansOf(item);
    }
    this.next();
  }

  /** Exports everything waiting, in batches; resolves when nothing waits and nothing is in flight. */
  flush(): Promise<void> {
    if (!this.exporting && this.queue.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.drained.push(resolve));
    this.next();
    return done;
  }

  private next(): void {
    if (this.exporting) return;
    if (this.queue.length === 0) {
      this.stopTimer();
      for (const resolve of this.drained.splice(0)) resolve();
      return;
    }
    if (this.queuedSpans >= this.settings.maxExportBatchSize || this.drained.length > 0) {
      this.exportOne();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.exportOne();
    }, this.settings.scheduledDelayMillis);
  }

  private exportOne(): void {
    this.stopTimer();
    const { items, spans } = this.takeBatch();
    if (items.length === 0) return this.next();
    this.exporting = true;
    let answered = false;
    const finish = (result: ExportResult): void => {
      if (answered) return;
      answered = true;
      clearTimeout(deadline);
      this.exporting = false;
      this.settled(result, spans);
      this.next();
    };
    const deadline = setTimeout(() => finish({ code: ExportResultCode.FAILED, error: new Error(`export did not answer within ${this.settings.exportTimeoutMillis} ms`) }), this.settings.exportTimeoutMillis);
    try {
      this.exportBatch(items, spans, finish);
    } catch (error) {
      finish({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  /** The items of the next batch, taken off the queue, and their spans. */
  private takeBatch(): { items: T[]; spans: number } {
    const max = this.settings.maxExportBatchSize;
    let count = 0;
    let spans = 0;
    while (count < this.queue.length) {
      const itemSpans = this.spansOf(this.queue[count]!);
      if (count > 0 && spans + itemSpans > max) break;
      spans += itemSpans;
      count += 1;
    }
    this.queuedSpans -= spans;
    return { items: this.queue.splice(0, count), spans };
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
