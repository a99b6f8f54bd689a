import { parseTraceParent as sdkParseTraceParent } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { formatTraceParent, parseTraceParent, RandomIds } from '../../../src/telemetry/tracing/trace-context.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('random trace and span ids', () => {
  it('are lowercase hex of 32 and 16 characters, distinct, across many refills of the pool', () => {
    const ids = new RandomIds();
    const traces = new Set<string>();
    const spans = new Set<string>();
    // 3000 × 24 bytes: the 4 KiB pool is refilled about 17 times, ids straddling no refill.
    for (let i = 0; i < 3000; i++) {
      const traceId = ids.traceId();
      const spanId = ids.spanId();
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(spanId).toMatch(/^[0-9a-f]{16}$/);
      traces.add(traceId);
      spans.add(spanId);
    }
    expect(traces.size).toBe(3000);
    expect(spans.size).toBe(3000);
  });

  it('are not biased: every hex digit turns up in every position', () => {
    const ids = new RandomIds();
    const seen = Array.from({ length: 32 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) {
      const id = ids.traceId();
      for (let position = 0; position < 32; position++) seen[position]!.add(id[position]!);
    }
    for (const digits of seen) expect(digits.size).toBe(16);
  });

  it('are never all zeros (invalid in W3C Trace Context)', () => {
    const ids = new RandomIds();
    // Force an all-zero pool: the next id gets its last byte set to 1.
    const internals = ids as unknown as { pool: Buffer; offset: number };
    internals.pool.fill(0);
    internals.offset = 0;
    expect(ids.spanId()).toBe('0000000000000001');
    expect(ids.traceId()).toBe('00000000000000000000000000000001');
  });
});

describe('traceparent', () => {
  const cases: Array<string | string[] | undefined> = [
    `00-${TRACE_ID}-${SPAN_ID}-01`,
    `00-${TRACE_ID}-${SPAN_ID}-00`,
    `00-${TRACE_ID}-${SPAN_ID}-09`,
    ` 00-${TRACE_ID}-${SPAN_ID}-01`,
    `00-${TRACE_ID}-${SPAN_ID}-01 `,
    `\t00-${TRACE_ID}-${SPAN_ID}-01`,
    `  00-${TRACE_ID}-${SPAN_ID}-01`,
    `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
    `01-${TRACE_ID}-${SPAN_ID}-01-future-part`,
    `01-${TRACE_ID}-${SPAN_ID}-01`,
    `01-${TRACE_ID}-${SPAN_ID}-01x`,
    `ff-${TRACE_ID}-${SPAN_ID}-01`,
    `0g-${TRACE_ID}-${SPAN_ID}-01`,
    `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
    `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
    `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    `00-${TRACE_ID}-${SPAN_ID}-1`,
    `00-${TRACE_ID}-${SPAN_ID}-zz`,
    `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`,
    `00_${TRACE_ID}-${SPAN_ID}-01`,
    `00-${TRACE_ID}_${SPAN_ID}-01`,
    '',
    'garbage',
    undefined,
    [`00-${TRACE_ID}-${SPAN_ID}-01`, `00-${'1'.repeat(32)}-${SPAN_ID}-01`],
    [],
  ];

  it('accepts and rejects exactly what the SDK W3C propagator does', () => {
    for (const header of cases) {
      const first = Array.isArray(header) ? header[0] : header;
      const expected = typeof first === 'string' && first !== '' ? (sdkParseTraceParent(first) ?? undefined) : undefined;
      expect(parseTraceParent(header), JSON.stringify(header)).toEqual(expected);
    }
    // The table covers both outcomes.
    expect(cases.filter((header) => parseTraceParent(header) !== undefined).length).toBeGreaterThan(5);
    expect(cases.filter((header) => parseTraceParent(header) === undefined).length).toBeGreaterThan(10);
  });

  it('names the parent: ids and the flags byte as sent', () => {
    expect(parseTraceParent(`00-${TRACE_ID}-${SPAN_ID}-01`)).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    expect(parseTraceParent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags).toBe(0);
  });

  it('is written as version 00 with the sampled flag, and reads back', () => {
    expect(formatTraceParent(TRACE_ID, SPAN_ID, true)).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
    expect(formatTraceParent(TRACE_ID, SPAN_ID, false)).toBe(`00-${TRACE_ID}-${SPAN_ID}-00`);
    expect(parseTraceParent(formatTraceParent(TRACE_ID, SPAN_ID, false))).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 });
  });
});
