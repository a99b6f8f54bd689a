import { createNoopMeter, type Attributes, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** Where the exporter's state changes are told. */
export interface ExportProblemLog {
  exportFailing(error: unknown): void;
  exportRecovered(): void;
}

/**
 * Tells the log when export starts failing and when it recovers: once per outage, never per
 * batch or per request (an unreachable collector under load fails every few seconds). The batch
 * processor's queue is bounded and drops spans when full, so a dead collector costs neither
 * memory nor request latency.
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

/** The standard OTLP exporter, its results recorded in an `ExportHealth` on their way back. */
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

/** The SDK's self-observability counter of spans a processor finished (semconv `otel.sdk.processor.span.processed`). */
const PROCESSED_SPANS = 'otel.sdk.processor.span.processed';

/**
 * Spans the batch span processor finished: exported, failed (the exporter answered with an
 * error) and dropped (its queue was full), as the processor itself counts them. `meterProvider`
 * is handed to the processor as its self-observability meter provider: of everything it reports,
 * only the processed-spans counter is kept (`error.type` absent: exported; `queue_full`: dropped;
 * any other: failed), read by `tollbooth_trace_export_spans_total` at scrape time.
 */
export class TraceExportCounts {
  exported = 0;
  failed = 0;
  dropped = 0;
  readonly meterProvider: MeterProvider;

  constructor() {
    const processed: Pick<Counter, 'add'> = {
      add: (count: number, attributes?: Attributes) => {
        const errorType = attributes?.['error.type'];
        if (errorType === undefined) this.exported += count;
        else if (errorType === 'queue_full') this.dropped += count;
        else this.failed += count;
      },
    };
    const noop = createNoopMeter();
    const meter: Meter = Object.assign(Object.create(noop) as Meter, {
      createCounter: (name: string) => (name === PROCESSED_SPANS ? processed : noop.createCounter(name)),
    });
    this.meterProvider = { getMeter: () => meter };
  }
}
