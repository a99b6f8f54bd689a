import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { batchSettingsFromEnv, SpanBatcher, type BatchSettings } from '../../../src/telemetry/tracing/span-batcher.js';

/** Stand-ins for spans: the batcher only counts and hands them on. */
function spans(count: number, from = 0): ReadableSpan[] {
  return Array.from({ length: count }, (_, i) => ({ name: `span ${from + i}` }) as unknown as ReadableSpan);
}

const names = (batch: readonly ReadableSpan[]) => batch.map((span) => span.name);
const wait = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A batcher whose exports wait for the test to answer them. */
function harness(settings: Partial<BatchSettings>) {
  const exports: { spans: ReadableSpan[]; answer: (result: ExportResult) => void }[] = [];
  const settled: { code: ExportResultCode; spans: number; error?: string }[] = [];
  const batcher = new SpanBatcher<ReadableSpan>(
    { maxQueueSize: 2048, scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxExportBatchSize: 4, ...settings },
    () => 1,
    (batch, _spans, done) => exports.push({ spans: batch, answer: done }),
    (result, count) => settled.push({ code: result.code, spans: count, ...(result.error ? { error: result.error.message } : {}) }),
  );
  return { batcher, exports, settled };
}

describe('request spans batched in the export thread', () => {
  it('export a full batch at once, one export at a time, the next full batch as soon as the last one answered', () => {
    const { batcher, exports, settled } = harness({});
    batcher.add(spans(10));
    expect(exports).toHaveLength(1);
    expect(names(exports[0]!.spans)).toEqual(['span 0', 'span 1', 'span 2', 'span 3']);
    exports[0]!.answer({ code: ExportResultCode.SUCCESS });
    expect(settled).toEqual([{ code: ExportResultCode.SUCCESS, spans: 4 }]);
    expect(exports).toHaveLength(2);
    expect(names(exports[1]!.spans)).toEqual(['span 4', 'span 5', 'span 6', 'span 7']);
    // Two spans are left, fewer than a batch: they wait for the delay.
    exports[1]!.answer({ code: ExportResultCode.FAILED, error: new Error('collector said 503') });
    expect(settled[1]).toEqual({ code: ExportResultCode.FAILED, spans: 4, error: 'collector said 503' });
    expect(exports).toHaveLength(2);
  });

  it('export what waits once the scheduled delay has passed since it started waiting', async () => {
    const { batcher, exports } = harness({ scheduledDelayMillis: 40 });
    batcher.add(spans(1));
    batcher.add(spans(1, 1));
    expect(exports).toHaveLength(0);
    await wait(80);
    expect(exports).toHaveLength(1);
    expect(names(exports[0]!.spans)).toEqual(['span 0', 'span 1']);
  });

  it('flush exports everything waiting in batches and resolves when the last export answered', async () => {
    const { batcher, exports } = harness({});
    batcher.add(spans(6));
    let flushed = false;
    const flushing = batcher.flush().then(() => (flushed = true));
    exports[0]!.answer({ code: ExportResultCode.SUCCESS });
    expect(names(exports[1]!.spans)).toEqual(['span 4', 'span 5']);
    await wait(5);
    expect(flushed).toBe(false);
    exports[1]!.answer({ code: ExportResultCode.SUCCESS });
    await flushing;
    expect(flushed).toBe(true);
    await batcher.flush();
  });

  it('count an export that never answers as failed after the export timeout, and go on; a late answer changes nothing', async () => {
    const { batcher, exports, settled } = harness({ exportTimeoutMillis: 30 });
    batcher.add(spans(8));
    while (settled.length === 0) await wait(5);
    expect(settled[0]).toEqual({ code: ExportResultCode.FAILED, spans: 4, error: 'export did not answer within 30 ms' });
    expect(exports).toHaveLength(2);
    exports[0]!.answer({ code: ExportResultCode.SUCCESS });
    expect(settled.filter((one) => one.code === ExportResultCode.SUCCESS)).toEqual([]);
  });

  it('settle as failed an export that throws', () => {
    const settled: ExportResultCode[] = [];
    const batcher = new SpanBatcher<ReadableSpan>(
      { maxQueueSize: 10, scheduledDelayMillis: 5000, exportTimeoutMillis: 1000, maxExportBatchSize: 2 },
      () => 1,
      () => {
        throw new Error('encoder broke');
      },
      (result) => settled.push(result.code),
    );
    batcher.add(spans(4));
    expect(settled).toEqual([ExportResultCode.FAILED, ExportResultCode.FAILED]);
  });

  it('keep the spans of one item (a request) in one batch: a batch takes whole items up to the batch size, at least one', () => {
    const exported: { items: string[]; spans: number }[] = [];
    const settled: number[] = [];
    const batcher = new SpanBatcher<{ name: string; spans: number }>(
      { maxQueueSize: 2048, scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxExportBatchSize: 5 },
      (item) => item.spans,
      (items, spans, done) => {
        exported.push({ items: items.map((item) => item.name), spans });
        done({ code: ExportResultCode.SUCCESS });
      },
      (_result, spans) => settled.push(spans),
    );
    batcher.add([
      { name: 'a', spans: 2 },
      { name: 'b', spans: 2 },
      { name: 'c', spans: 3 },
      { name: 'd', spans: 7 },
      { name: 'e', spans: 1 },
    ]);
    // 15 spans wait: batches of whole items, the one larger than a batch alone; one span is left for the delay.
    expect(exported).toEqual([
      { items: ['a', 'b'], spans: 4 },
      { items: ['c'], spans: 3 },
      { items: ['d'], spans: 7 },
    ]);
    expect(settled).toEqual([4, 3, 7]);
  });

  it('take OTEL_BSP_* as the SDK does: positive numbers only, else the defaults', () => {
    expect(batchSettingsFromEnv({})).toEqual({ maxQueueSize: 2048, scheduledDelayMillis: 5000, exportTimeoutMillis: 30000, maxExportBatchSize: 512 });
    expect(
      batchSettingsFromEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '8192', OTEL_BSP_SCHEDULE_DELAY: '250', OTEL_BSP_EXPORT_TIMEOUT: '-1', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'many' }),
    ).toEqual({ maxQueueSize: 8192, scheduledDelayMillis: 250, exportTimeoutMillis: 30000, maxExportBatchSize: 512 });
  });
});
