import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { PriceBook } from '../../../src/cost/price-book.js';
import type { TokenCounts } from '../../../src/cost/cost.js';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { openRequestLifecycle } from '../../../src/lifecycle/request-hooks.js';
import { RequestLifecycle, type RequestEnd, type RequestSubscriber } from '../../../src/lifecycle/request-lifecycle.js';
import { settlementSubscriber } from '../../../src/ratelimit/rate-limit-stage.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';
import { MetricsRecorder } from '../../../src/telemetry/metrics/recorder.js';
import { RequestTelemetry } from '../../../src/telemetry/request-telemetry.js';
import { RequestStatistics } from '../../../src/telemetry/stats/request-statistics.js';
import { finishedRequest, pricesOfModelM } from './fixtures.js';

/** The guard with the gateway's counter in its own registry, and its log lines captured. */
function guard(): { internalErrors: InternalErrors; registry: Registry; lines: Record<string, unknown>[]; log: pino.Logger } {
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const internalErrors = new InternalErrors(log);
  internalErrors.countInto(createInstruments(registry, { replicas: () => [] }, 'test').internalErrors);
  return { internalErrors, registry, lines, log };
}

async function internalErrorCount(registry: Registry, stage: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric('tollbooth_internal_errors_total')?.get();
  return metric?.values.find((value) => value.labels.stage === stage)?.value;
}

const PRICES = pricesOfModelM();

describe('the request lifecycle', () => {
  it('settles before telemetry runs, then the telemetry subscribers in their order, all with the same tokens and cost', () => {
    const { internalErrors, registry, lines, log } = guard();
    const accessLines = () => lines.filter((line) => line.component === 'access');
    const settled: Array<{ tokens: TokenCounts; costNanos: bigint; accessLinesThen: number }> = [];
    const statistics = new RequestStatistics({ windowMs: 60_000, currency: 'USD', startedAtMs: Date.now() });
    const telemetry = new RequestTelemetry({
      metrics: new MetricsRecorder(createInstruments(new Registry(), { replicas: () => [] }, 'test'), 'USD'),
      statistics,
      currency: 'USD',
      labels: { modelLabel: (model) => model ?? 'none', tenantLabel: () => 'none' },
      accessLog: log.child({ component: 'access' }),
      internalErrors,
    });
    const subscribers = telemetry.subscribers();
    expect(subscribers.map((subscriber) => subscriber.name)).toEqual(['metrics', 'statistics', 'access_log']);
    const lifecycle = new RequestLifecycle(PRICES, internalErrors).subscribe(
      settlementSubscriber((_observation, tokens, costNanos) => void settled.push({ tokens, costNanos, accessLinesThen: accessLines().length })),
    );
    for (const subscriber of subscribers) lifecycle.subscribe(subscriber);

    lifecycle.ended(finishedRequest('req-order'));

    expect(settled).toHaveLength(1);
    expect(settled[0]!.accessLinesThen).toBe(0);
    expect(settled[0]!.tokens).toMatchObject({ input: 12, cachedInput: 0, output: 5 });
    // 12 × 1 + 5 × 2 per million tokens, in nano-units.
    expect(settled[0]!.costNanos).toBe(22_000n);
    expect(accessLines()).toHaveLength(1);
    expect(accessLines()[0]).toMatchObject({ request_id: 'req-order', input_tokens: 12, output_tokens: 5 });
    expect(statistics.snapshot(Date.now()).since_start.overall.requests.total).toBe(1);
    return expect(internalErrorCount(registry, 'settlement')).resolves.toBe(0);
  });

  it('counts the tokens and the cost once per request and hands every subscriber the same end', () => {
    const { internalErrors } = guard();
    let pricings = 0;
    const pricing = {
      costOf: (...args: Parameters<PriceBook['costOf']>) => {
        pricings += 1;
        return PRICES.costOf(...args);
      },
    };
    const ends: RequestEnd[] = [];
    const lifecycle = new RequestLifecycle(pricing, internalErrors)
      .subscribe({ name: 'settlement', ended: (_observation, end) => void ends.push(end) })
      .subscribe({ name: 'metrics', ended: (_observation, end) => void ends.push(end) });

    lifecycle.ended(finishedRequest('req-once'));

    expect(pricings).toBe(1);
    expect(ends).toHaveLength(2);
    expect(ends[1]).toBe(ends[0]);
    expect(ends[0]!.usage).toEqual({ tokens: { input: 12, cachedInput: 0, output: 5, source: 'exact' }, cost: { nanos: 22_000n, basis: 'tokens' } });
  });

  it('runs every subscriber when one throws and another rejects, and counts each failure under its name', async () => {
    const { internalErrors, registry, lines } = guard();
    const ran: string[] = [];
    const lifecycle = new RequestLifecycle(PRICES, internalErrors)
      .subscribe({ name: 'settlement', ended: () => void ran.push('settlement') })
      .subscribe({
        name: 'metrics',
        ended: () => {
          throw new Error('recorder broke');
        },
      })
      .subscribe({ name: 'statistics', ended: () => Promise.reject(new Error('statistics went away')) })
      .subscribe({ name: 'access_log', ended: () => void ran.push('access_log') });

    lifecycle.ended(finishedRequest('req-throw'));
    await new Promise((resolve) => setImmediate(resolve));

    expect(ran).toEqual(['settlement', 'access_log']);
    expect(await internalErrorCount(registry, 'metrics')).toBe(1);
    expect(await internalErrorCount(registry, 'statistics')).toBe(1);
    expect(await internalErrorCount(registry, 'settlement')).toBe(0);
    expect(lines.filter((line) => line.stage !== undefined).map((line) => [line.stage, line.request_id])).toEqual([
      ['metrics', 'req-throw'],
      ['statistics', 'req-throw'],
    ]);
  });

  it('still ends a request whose observation cannot be read: no usage, reported once as measures', async () => {
    const { internalErrors, registry } = guard();
    const ends: RequestEnd[] = [];
    const lifecycle = new RequestLifecycle(PRICES, internalErrors).subscribe({ name: 'settlement', ended: (_observation, end) => void ends.push(end) });
    const unreadable = finishedRequest('req-unreadable');
    Object.defineProperty(unreadable, 'streamFacts', {
      get() {
        throw new Error('a stage left a broken fact');
      },
    });

    lifecycle.ended(unreadable);

    expect(ends).toEqual([{ usage: undefined }]);
    expect(await internalErrorCount(registry, 'measures')).toBe(1);
  });

  it('ends each request over HTTP exactly once, finished and abandoned alike, after its start', async () => {
    const { internalErrors } = guard();
    const events: Array<{ event: 'started' | 'ended'; requestId: string; clientDisconnected: boolean }> = [];
    const recorder: RequestSubscriber = {
      name: 'metrics',
      started: (observation) => void events.push({ event: 'started', requestId: observation.requestId, clientDisconnected: false }),
      ended: (observation) => void events.push({ event: 'ended', requestId: observation.requestId, clientDisconnected: observation.clientDisconnected }),
    };
    const app = Fastify();
    openRequestLifecycle(app, new RequestLifecycle(PRICES, internalErrors).subscribe(recorder));
    app.get('/quick', async () => 'ok');
    // Answers its headers and a first chunk, then holds the response open until the client leaves.
    app.get('/held', (request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/plain', 'x-request-id': request.id });
      reply.raw.write('first chunk');
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const finished: string[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`http://127.0.0.1:${port}/quick`);
        expect(await response.text()).toBe('ok');
        finished.push(response.headers.get('x-request-id')!);
      }
      const abandoned = await new Promise<string>((resolve, reject) => {
        const held = httpRequest({ host: '127.0.0.1', port, path: '/held' }, (response) => {
          response.once('data', () => {
            resolve(String(response.headers['x-request-id']));
            held.destroy();
          });
        });
        held.on('error', (error) => (error.message === 'socket hang up' ? undefined : reject(error)));
        held.end();
      });
      await until(() => events.some((event) => event.event === 'ended' && event.requestId === abandoned));
    } finally {
      await app.close();
    }
    await new Promise((resolve) => setImmediate(resolve));

    const requestIds = [...new Set(events.map((event) => event.requestId))];
    expect(requestIds).toHaveLength(4);
    for (const requestId of requestIds) {
      expect(events.filter((event) => event.requestId === requestId).map((event) => event.event)).toEqual(['started', 'ended']);
    }
    expect(events.filter((event) => event.event === 'ended' && event.clientDisconnected)).toHaveLength(1);
  });
});

/** Resolves once `condition` holds, checking every few milliseconds (the test's own timeout bounds it). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
