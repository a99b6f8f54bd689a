import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { postJson } from '../../helpers/fleet.js';
import { startJaeger, type Jaeger } from '../../helpers/jaeger.js';
import { startSimulatorProcess, type SimulatorProcess } from '../../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { startTracedGateway, type TracedGateway } from './traced-gateway.js';

interface Span {
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: { stringValue?: string } }[];
}

const SPAN_KIND_SERVER = 2;

/**
 * A gateway with API keys and limits in Redis, traced into a real Jaeger: the limiter's Lua script
 * shows as an ioredis CLIENT span under the request's SERVER span, named by its command only (the
 * script's keys hold key ids and tenants), next to the `rate_limit` span built from the observation.
 */
describe('rate limits in a trace', () => {
  let jaeger: Jaeger;
  let redis: RedisServer;
  let simulator: SimulatorProcess;
  let gateway: TracedGateway;
  const secret = generateApiKey();

  beforeAll(async () => {
    [jaeger, redis, simulator] = await Promise.all([startJaeger(), startRedisServer(), startSimulatorProcess({ models: ['m'], interTokenMs: 0, prefillBaseMs: 0 })]);
    gateway = await startTracedGateway(
      {
        replicas: [{ name: 'sim', url: simulator.url, models: ['m'] }],
        auth: { enabled: true, keys: [{ id: 'traced-key', tenant: 'acme', limits: { requestsPerMinute: 600 }, hash: hashApiKey(secret) }] },
        rateLimits: { store: 'redis' },
        redis: { url: redis.url },
      },
      { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([simulator?.stop(), redis?.stop()]);
    await jaeger?.stop();
  });

  it('puts the Redis script under the request, with the command name only', async () => {
    const traceId = randomBytes(16).toString('hex');
    const answer = await postJson(
      `${gateway.url}/v1/chat/completions`,
      { model: 'm', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] },
      { authorization: `Bearer ${secret}`, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    );
    expect(answer.status).toBe(200);
    const document = (await jaeger.trace(traceId, { minSpans: 4 })) as { resourceSpans: { scopeSpans: { spans: Span[] }[] }[] };
    const spans = document.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
    const server = spans.find((span) => span.kind === SPAN_KIND_SERVER && span.name === 'POST /v1/chat/completions')!;
    expect(server).toBeDefined();
    const redisSpans = spans.filter((span) => span.attributes?.some((attribute) => attribute.key === 'db.system.name' && attribute.value.stringValue === 'redis'));
    expect(redisSpans.length).toBeGreaterThanOrEqual(1);
    for (const span of redisSpans) {
      expect(span.parentSpanId).toBe(server.spanId);
      expect(['evalsha', 'eval']).toContain(span.name);
      // The statement is the command name alone: never the script's keys or arguments.
      const statement = span.attributes?.find((attribute) => attribute.key === 'db.query.text')?.value.stringValue;
      expect(statement).toBe(span.name);
    }
    const text = JSON.stringify(redisSpans);
    expect(text).not.toContain('traced-key');
    expect(text).not.toContain(secret);
    expect(spans.map((span) => span.name)).toContain('rate_limit');
  });
});
