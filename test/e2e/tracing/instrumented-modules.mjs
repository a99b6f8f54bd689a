// Starts Tollbooth's tracing SDK the way the CLI does, then loads pino and ioredis (CommonJS
// packages imported from ESM) afterwards, logs a line and runs Redis commands inside one span,
// and prints that span's trace id. Run by instrumentations.test.ts with OTEL_* and REDIS_URL set.
const { startTracing } = await import(process.env.TRACING_SDK_MODULE);
const tracing = await startTracing({ enabled: true, captureContent: false, contentLimitChars: 1024, shutdownTimeoutMs: 5000 });
const { trace } = await import('@opentelemetry/api');
const { default: pino } = await import('pino');
const { Redis } = await import('ioredis');

const log = pino({ base: undefined });
const redis = new Redis(process.env.REDIS_URL);
// Outside any request: with requireParentSpan, no span.
await redis.ping();
const traceId = await trace.getTracer('probe').startActiveSpan('probe', async (span) => {
  log.info('inside the probe span');
  await redis.set('tb:key:3f9a-secret-key-hash', 'tenant-secret-value');
  await redis.get('tb:key:3f9a-secret-key-hash');
  span.end();
  return span.spanContext().traceId;
});
await redis.quit();
await tracing.shutdown();
process.stdout.write(`${JSON.stringify({ state: tracing.state, traceId })}\n`);
