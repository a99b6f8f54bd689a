import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** Where the exporter's state changes are told. */
export interface ExportProblemLog {
  exportFailing(error: unknown): void;
  exportRecovered(): void;
}

/**
 * An exporter that tells the log when export starts failing and when it recovers: once per
 * outage, never per batch or per request (an unreachable collector under load fails every few
 * seconds). The batch processor in front of it keeps a bounded queue and drops spans when it is
 * full, so a dead collector costs neither memory nor request latency.
 */
export class ReportingExporter implements SpanExporter {
  private failing = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly problems: ExportProblemLog,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) {
        if (this.failing) {
          this.failing = false;
          this.problems.exportRecovered();
        }
      } else if (!this.failing) {
        this.failing = true;
        this.problems.exportFailing(result.error ?? new Error('export failed'));
      }
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
