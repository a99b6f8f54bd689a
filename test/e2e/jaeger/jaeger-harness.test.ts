import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJaeger, type Jaeger } from '../../helpers/jaeger.js';

/** One span as OTLP JSON, the way any exporter would send it over OTLP/HTTP. */
function otlpSpan(traceId: string, spanId: string, name: string): unknown {
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'harness-test' } }] },
        scopeSpans: [
          {
            scope: { name: 'harness' },
            spans: [{ traceId, spanId, name, kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1_000_000n) }],
          },
        ],
      },
    ],
  };
}

async function send(jaeger: Jaeger, document: unknown): Promise<void> {
  const response = await fetch(`${jaeger.otlpHttpEndpoint}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(document),
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

describe('the Jaeger harness', () => {
  let first: Jaeger;
  let second: Jaeger;
  beforeAll(async () => {
    [first, second] = await Promise.all([startJaeger(), startJaeger()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
  });

  it('runs two instances side by side on their own ports', () => {
    const endpoints = [first, second].flatMap((jaeger) => [jaeger.otlpHttpEndpoint, jaeger.otlpGrpcEndpoint, jaeger.queryUrl]);
    expect(new Set(endpoints).size).toBe(6);
    for (const endpoint of endpoints) expect(endpoint).not.toMatch(/:(4317|4318|16686)$/);
  });

  it('reads back, as OTLP JSON, a span posted to OTLP/HTTP, and only from the instance that got it', async () => {
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    await send(first, otlpSpan(traceId, spanId, 'harness span'));
    const trace = (await first.trace(traceId)) as { resourceSpans: { scopeSpans: { spans: { spanId: string; name: string }[] }[] }[] };
    const spans = trace.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
    expect(spans).toEqual([expect.objectContaining({ spanId, name: 'harness span' })]);
    await expect(second.trace(traceId, { timeoutMs: 300 })).rejects.toThrow(/0 span\(s\) in Jaeger, wanted 1/);
  });

  it('waits for minSpans before answering', async () => {
    const traceId = randomBytes(16).toString('hex');
    await send(first, otlpSpan(traceId, randomBytes(8).toString('hex'), 'early'));
    const waiting = first.trace(traceId, { minSpans: 2, timeoutMs: 5_000 });
    await new Promise((wake) => setTimeout(wake, 200));
    await send(first, otlpSpan(traceId, randomBytes(8).toString('hex'), 'late'));
    const trace = (await waiting) as { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] };
    const names = trace.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans.map((span) => span.name)));
    expect(names.sort()).toEqual(['early', 'late']);
  });

  it('counts accepted spans when asked to serve its own metrics', async () => {
    const counted = await startJaeger({ selfMetrics: true });
    try {
      expect(await counted.acceptedSpans()).toBe(0);
      const traceId = randomBytes(16).toString('hex');
      await send(counted, otlpSpan(traceId, randomBytes(8).toString('hex'), 'one'));
      await send(counted, otlpSpan(traceId, randomBytes(8).toString('hex'), 'two'));
      expect(await counted.acceptedSpans()).toBe(2);
      await expect(first.acceptedSpans()).rejects.toThrow(/selfMetrics/);
    } finally {
      await counted.stop();
    }
  }, 30_000);
});
