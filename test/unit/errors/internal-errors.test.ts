import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { TokenCounts } from '../../../src/cost/cost.js';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { RequestLifecycle, type RequestArrival } from '../../../src/lifecycle/request-lifecycle.js';
import { settlementSubscriber } from '../../../src/ratelimit/rate-limit-stage.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';
import { MetricsRecorder } from '../../../src/telemetry/metrics/recorder.js';
import { createObservation, type RequestObservation } from '../../../src/lifecycle/observation.js';
import { RequestTelemetry } from '../../../src/telemetry/request-telemetry.js';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { finishedRequest, pricesOfModelM } from '../lifecycle/fixtures.js';

/** A logger writing parsed lines into an array. */
function capturedLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { log: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

/** The value of tollbooth_internal_errors_total{stage} in `registry`. */
async function internalErrorCount(registry: Registry, stage: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric('tollbooth_internal_errors_total')?.get();
  return metric?.values.find((value) => value.labels.stage === stage)?.value;
}

/** A request that just arrived, as the lifecycle's first hook starts it. */
function arriving(id: string): [RequestObservation, RequestArrival] {
  return [createObservation(id, 'POST', '/v1/chat/completions', performance.now()), { headers: {}, response: new ServerResponse(new IncomingMessage(new Socket())) }];
}

/** The gateway's lifecycle with telemetry's real parts, a settlement of the test's choosing, and the access log captured. */
function lifecycleWith(settlement: (observation: RequestObservation, tokens: TokenCounts, costNanos: bigint) => void | Promise<void>, accessLog?: pino.Logger) {
  const registry = new Registry();
  const instruments = createInstruments(registry, { replicas: () => [] }, 'test');
  const { log, lines } = capturedLog();
  const internalErrors = new InternalErrors(log);
  internalErrors.countInto(instruments.internalErrors);
  const statistics = new RequestStatistics({ windowMs: 60_000, currency: 'USD', startedAtMs: Date.now() });
  const telemetry = new RequestTelemetry({
    metrics: new MetricsRecorder(instruments, 'USD'),
    statistics,
    currency: 'USD',
    labels: { modelLabel: (model) => model ?? 'none', tenantLabel: () => 'none' },
    accessLog: accessLog ?? log.child({ component: 'access' }),
    internalErrors,
  });
  const lifecycle = new RequestLifecycle(pricesOfModelM(), internalErrors).subscribe(settlementSubscriber(settlement));
  for (const subscriber of telemetry.subscribers()) lifecycle.subscribe(subscriber);
  return { lifecycle, registry, lines, statistics };
}

describe('InternalErrors', () => {
  it('reports a throw once, with its stage and request id, and counts it', async () => {
    const registry = new Registry();
    const instruments = createInstruments(registry, { replicas: () => [] }, 'test');
    const { log, lines } = capturedLog();
    const guard = new InternalErrors(log);
    guard.countInto(instruments.internalErrors);
    expect(await internalErrorCount(registry, 'fleet_monitor')).toBe(0);

    guard.run('fleet_monitor', () => {
      throw new Error('probe bookkeeping broke');
    }, 'req-7');

    expect(await internalErrorCount(registry, 'fleet_monitor')).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, stage: 'fleet_monitor', request_id: 'req-7', err: { message: 'probe bookkeeping broke' } });
  });

  it('reports the rejection of a promise a guarded callback returns (a timer awaits nothing)', async () => {
    const registry = new Registry();
    const instruments = createInstruments(registry, { replicas: () => [] }, 'test');
    const { log, lines } = capturedLog();
    const guard = new InternalErrors(log);
    guard.countInto(instruments.internalErrors);
    const tick = guard.guard('dns_discovery', async (name: string) => {
      throw new Error(`cannot apply ${name}`);
    });

    tick('replicas.internal');
    await new Promise((resolve) => setImmediate(resolve));

    expect(await internalErrorCount(registry, 'dns_discovery')).toBe(1);
    expect(lines[0]).toMatchObject({ stage: 'dns_discovery', err: { message: 'cannot apply replicas.internal' } });
    expect(lines[0]).not.toHaveProperty('request_id');
  });

  it('logs before a counter is attached, and counts after', async () => {
    const { log, lines } = capturedLog();
    const guard = new InternalErrors(log);
    guard.report('key_reload', new Error('early'));
    const registry = new Registry();
    guard.countInto(createInstruments(registry, { replicas: () => [] }, 'test').internalErrors);
    guard.report('key_reload', new Error('later'));
    expect(lines.map((line) => (line.err as { message: string }).message)).toEqual(['early', 'later']);
    expect(await internalErrorCount(registry, 'key_reload')).toBe(1);
  });
});

describe('The request lifecycle after the response', () => {
  it('still records metrics, statistics and the access line when the settlement throws, and reports it', async () => {
    const { lifecycle, registry, lines, statistics } = lifecycleWith(() => {
      throw new Error('settlement broke');
    });
    lifecycle.ended(finishedRequest('req-settle'));

    expect(await internalErrorCount(registry, 'settlement')).toBe(1);
    const errors = lines.filter((line) => line.stage !== undefined);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ stage: 'settlement', request_id: 'req-settle', err: { message: 'settlement broke' } });
    expect(lines.find((line) => line.component === 'access')).toMatchObject({ request_id: 'req-settle', input_tokens: 12, output_tokens: 5 });
    expect(await registry.getSingleMetric('tollbooth_requests_total')?.get()).toMatchObject({ values: [{ value: 1 }] });
    expect(statistics.snapshot(Date.now()).since_start.overall.requests.total).toBe(1);
  });

  it('settles first, and the rest still runs, when the access log cannot be written', async () => {
    const settled: string[] = [];
    const broken = pino({ level: 'info' }, { write: () => { throw new Error('disk full'); } });
    const { lifecycle, registry } = lifecycleWith((observation, tokens) => void settled.push(`${observation.requestId}:${tokens.input + tokens.output}`), broken);
    lifecycle.ended(finishedRequest('req-log'));

    expect(settled).toEqual(['req-log:17']);
    expect(await internalErrorCount(registry, 'access_log')).toBe(1);
    expect(await registry.getSingleMetric('tollbooth_requests_total')?.get()).toMatchObject({ values: [{ value: 1 }] });
  });

  it('reports a settlement that rejects', async () => {
    const { lifecycle, registry, lines } = lifecycleWith(() => Promise.reject(new Error('store gone')));
    lifecycle.ended(finishedRequest('req-reject'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await internalErrorCount(registry, 'settlement')).toBe(1);
    expect(lines.find((line) => line.stage === 'settlement')).toMatchObject({ request_id: 'req-reject' });
  });

  it('releases the reservation even when the observation cannot be measured', async () => {
    const settled: TokenCounts[] = [];
    const { lifecycle, registry, statistics } = lifecycleWith((_observation, tokens) => void settled.push(tokens));
    lifecycle.started(...arriving('req-next'));
    const unreadable = finishedRequest('req-measure');
    Object.defineProperty(unreadable, 'streamFacts', {
      get() {
        throw new Error('a stage left a broken fact');
      },
    });
    lifecycle.ended(unreadable);
    expect(settled).toEqual([{ input: 0, cachedInput: 0, output: 0 }]);
    expect(await internalErrorCount(registry, 'measures')).toBe(1);
    // The request is over for the in-flight count: the next one is the only one in flight.
    lifecycle.started(...arriving('req-next'));
    expect(statistics.snapshot(Date.now()).since_start.peak_concurrent_requests).toBe(1);
  });
});
