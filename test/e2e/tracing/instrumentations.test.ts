import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJaeger, type Jaeger } from '../../helpers/jaeger.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

/**
 * The instrumentation startTracing installs, in a fresh process where ioredis loads after the SDK
 * (as in the CLI): Redis commands issued while a span is active become its children, with command
 * names only (keys hold key hashes and tenants' counters); a command after an asynchronous hop is
 * not followed (synchronous context manager, see synchronous-context.ts) and leaves no orphan.
 */

interface Output {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

function runProbe(env: NodeJS.ProcessEnv): Promise<Output> {
  const child = spawn(process.execPath, [resolve('test/e2e/tracing/instrumented-modules.mjs')], {
    env: { ...process.env, ...env, TRACING_SDK_MODULE: resolve('dist/src/telemetry/tracing/sdk.js') },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((done) => child.once('exit', (code) => done({ stdout, stderr, code })));
}

describe('ioredis instrumentation', () => {
  let jaeger: Jaeger;
  let redis: RedisServer;
  beforeAll(async () => {
    [jaeger, redis] = await Promise.all([startJaeger(), startRedisServer()]);
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
    await jaeger?.stop();
  });

  it('Redis spans under the active span with the command name only', async () => {
    const output = await runProbe({ OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint, OTEL_BSP_SCHEDULE_DELAY: '50', REDIS_URL: redis.url });
    expect(output.code, output.stderr).toBe(0);
    const lines = output.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const { state, traceId } = lines.at(-1) as { state: string; traceId: string };
    expect(state).toBe('on');

    const document = (await jaeger.trace(traceId, { minSpans: 3 })) as {
      resourceSpans: { scopeSpans: { spans: { name: string; spanId: string; parentSpanId?: string; attributes?: { key: string; value: { stringValue?: string } }[] }[] }[] }[];
    };
    const spans = document.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
    const probe = spans.find((span) => span.name === 'probe')!;
    const commands = spans.filter((span) => span.name !== 'probe');
    // Not `del`: it was sent after an await, outside the span's synchronous extent.
    expect(commands.map((span) => span.name).sort()).toEqual(['get', 'set']);
    for (const span of commands) expect(span.parentSpanId).toBe(probe.spanId);
    const text = JSON.stringify(commands);
    expect(text).not.toContain('secret');
    const statements = commands.flatMap((span) => (span.attributes ?? []).filter((attribute) => attribute.key === 'db.statement' || attribute.key === 'db.query.text'));
    expect(statements.map((attribute) => attribute.value.stringValue).sort()).toEqual(['get', 'set']);
  });
});
