import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

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
 * `exportTimeoutMillis` counts as failed. The queue's bound is kept by whoever adds (the event
 * loop counts the spans it handed over and not yet settled, see `ThreadedOtlpExporter`), so
 * `add` never refuses. Each export's outcome, with its span count, goes to `settled`.
 */
export class SpanBatcher {
  private readonly queue: ReadableSpan[] = [];
  private exporting = false;
  private timer: NodeJS.Timeout | undefined;
  /** Callers of `flush` waiting for the queue and the export in flight to empty. */
  private readonly drained: (() => void)[] = [];

  constructor(
    private readonly settings: BatchSettings,
    private readonly exportBatch: (spans: ReadableSpan[], done: (result: ExportResult) => void) => void,
    private readonly settled: (result: ExportResult, spans: number) => void,
  ) {}

  add(spans: readonly ReadableSpan[]): void {
    for (const span of spans) this.queue.push(span);
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
    if (this.queue.length >= this.settings.maxExportBatchSize || this.drained.length > 0) {
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
    const batch = this.queue.splice(0, this.settings.maxExportBatchSize);
    if (batch.length === 0) return this.next();
    this.exporting = true;
    let answered = false;
    const finish = (result: ExportResult): void => {
      if (answered) return;
      answered = true;
      clearTimeout(deadline);
      this.exporting = false;
      this.settled(result, batch.length);
      this.next();
    };
    const deadline = setTimeout(() => finish({ code: ExportResultCode.FAILED, error: new Error(`export did not answer within ${this.settings.exportTimeoutMillis} ms`) }), this.settings.exportTimeoutMillis);
    try {
      this.exportBatch(batch, finish);
    } catch (error) {
      finish({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
