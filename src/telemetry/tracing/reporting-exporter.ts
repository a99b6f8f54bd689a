import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** Where the exporter's state changes are told. */
export interface ExportProblemLog {
  exportFailing(error: unknown): void;
  exportRecovered(): void;
}

/**
 * Tells the log when export starts failing and when it recovers: once per outage, never per
 * batch or per request (an unreachable collector under load fails every few seconds). Every
 * export's result goes through `record`, library and request spans alike. The export queues are
 * bounded and drop spans when full, so a dead collector costs neither memory nor request latency.
 */
export class ExportHealth {
  private failing = false;

  constructor(private readonly problems: ExportProblemLog) {}

  record(result: ExportResult): void {
    if (result.code === ExportResultCode.SUCCESS) {
      if (this.failing) {
        this.failing = false;
        this.problems.exportRecovered();
      }
    } else if (!this.failing) {
      this.failing = true;
      this.problems.exportFailing(result.error ?? new Error('export failed'));
    }
  }
}

/** An exporter whose results are recorded in an `ExportHealth` on their way back. */
export class ReportingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly health: ExportHealth,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      this.health.record(result);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
