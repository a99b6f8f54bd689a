// Starts Tollbooth's tracing SDK the way the CLI does, then loads ioredis (a CommonJS package
// imported from ESM) afterwards, issues Redis commands inside one span (two in its synchronous
// extent, one after an await, which the synchronous context manager does not follow), and prints
// that span's trace id. Run by instrumentations.test.ts with OTEL_* and REDIS_URL set.
const { startTracing } = await import(process.env.TRACING_SDK_MODULE);
const tracing = await startTracing({ enabled: true, captureContent: false, contentLimitChars: 1024, shutdownTimeoutMs: 5000 }, { redis: true });
const { trace } = await import('@opentelemetry/api');
const { Redis } = await import('ioredis');

const redis = new Redis(process.env.REDIS_URL);
// Outside any request: with requireParentSpan, no span.
await redis.ping();
const traceId = await trace.getTracer('probe').startActiveSpan('probe', async (span) => {
  await Promise.all([redis.set('tb:key:3f9a-secret-key-hash', 'tenant-secret-value'), redis.get('tb:key:3f9a-secret-key-hash')]);
  await redis.del('tb:key:3f9a-secret-key-hash');
  span.end();
  return span.spanContext().traceId;
});
await redis.quit();
await tracing.shutdown();
process.stdout.write(`${JSON.stringify({ state: tracing.state, traceId })}\n`);
