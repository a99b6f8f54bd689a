import { register } from 'node:module';
import type { Logger } from 'pino';
import type { TracingConfig } from './config.js';
import type { ExportProblemLog } from './reporting-exporter.js';
import { spanOriginOf, useSpanPipeline } from './span-pipeline.js';

/**
 * The OpenTelemetry SDK of the gateway process. `startTracing` must run before ioredis is first
 * imported (the CLI starts it, then imports the rest dynamically): the ioredis instrumentation
 * patches it as it loads. Everything OpenTelemetry is imported here only when tracing is on, so
 * a gateway without an endpoint loads none of it. The ioredis instrumentation and its ESM loader
 * hook are set up only when the configuration uses Redis: nothing else needs them, and on Node 20 a
 * gateway with the hook registered and nothing sampled measured about 50 µs more CPU per request
 * (491 against 440, on a loaded host; the figures are in the commit that made it conditional).
 *
 * Export is the SDK's own pipeline, configured from the standard variables by the SDK's own
 * readers: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT (required: no
 * endpoint, no tracing), OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default, or grpc) and every
 * other OTEL_EXPORTER_OTLP_* setting (read by the exporter), OTEL_SERVICE_NAME (default
 * tollbooth), OTEL_TRACES_SAMPLER and _ARG, OTEL_BSP_* (the batch processor's bounded queue),
 * OTEL_PROPAGATORS, OTEL_SPAN_ATTRIBUTE_*, OTEL_SDK_DISABLED.
 */

/** How tracing came out of start-up; `report` writes it to the log once the logger exists. */
export interface TracingRuntime {
  readonly state: 'on' | 'off' | 'failed';
  /** Why tracing is off, or why it failed to start. */
  readonly reason: string | undefined;
  /** Writes the start-up outcome to the log and sends later export failures there (once per outage). */
  report(log: Logger): void;
  /** Exports what is queued, for at most tracing.shutdownTimeoutMs, and stops. Never throws. */
  shutdown(): Promise<void>;
}

/** Modules whose instrumentation needs the ESM loader hook (they are CommonJS, imported from ESM). */
const HOOKED_MODULES = ['ioredis'];

/**
 * Starts the SDK from `process.env` (the SDK's own readers and the exporter read nothing else).
 * `libraries.redis`: the gateway will use Redis (rateLimits.store or auth.store is redis), so its
 * commands are traced.
 */
export async function startTracing(settings: TracingConfig, libraries: { readonly redis: boolean }): Promise<TracingRuntime> {
  const env = process.env;
  const off = offReason(settings, env);
  if (off !== undefined) return inactive('off', off);
  const protocol = protocolText(env);
  if (protocol !== 'http/protobuf' && protocol !== 'grpc') {
    return inactive('failed', `OTEL_EXPORTER_OTLP_PROTOCOL "${protocol}" is not supported (use http/protobuf or grpc)`);
  }
  try {
    if (libraries.redis) register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: HOOKED_MODULES } });
    const [{ NodeSDK, tracing, resources }, { trace, propagation }, fromEnv, { IORedisInstrumentation }, reporting, { SynchronousContextManager }, { OTLPTraceExporter }] = await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/api'),
      // The NodeSDK's own readers of OTEL_TRACES_SAMPLER, OTEL_BSP_* and the span limits (not re-exported by its index).
      import('@opentelemetry/sdk-node/build/src/create-from-env.js'),
      import('@opentelemetry/instrumentation-ioredis'),
      import('./reporting-exporter.js'),
      import('./synchronous-context.js'),
      // The transport of the other protocol is never loaded (gRPC brings @grpc/grpc-js with it).
      protocol === 'grpc' ? import('@opentelemetry/exporter-trace-otlp-grpc') : import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
    const problems = new ExportProblemSink();
    const exportCounts = new reporting.TraceExportCounts();
    // The batch processor of OTEL_BSP_* (2048 spans by default; full: dropped, never blocking), which
    // counts what it exported, failed and dropped into `exportCounts`.
    const exporter = new reporting.ReportingExporter(new OTLPTraceExporter(), new reporting.ExportHealth(problems));
    const processor = fromEnv.createBatchSpanProcessorFromEnv(exporter, exportCounts.meterProvider);
    // One sampler and id generator for request spans and library spans alike.
    const sampler = fromEnv.createSamplerFromEnv() ?? new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() });
    const idGenerator = new tracing.RandomIdGenerator();
    const sdk = new NodeSDK({
      // OTEL_SERVICE_NAME (read by the environment detector) wins over this default.
      ...(env.OTEL_SERVICE_NAME === undefined || env.OTEL_SERVICE_NAME === '' ? { serviceName: 'tollbooth' } : {}),
      spanProcessors: [processor],
      sampler,
      idGenerator,
      // No AsyncLocalStorage: it would put an async_hooks init call on every relayed chunk's write.
      contextManager: new SynchronousContextManager(),
      // Metrics are Prometheus' job and logs go to stdout: nothing else is exported.
      metricReaders: [],
      logRecordProcessors: [],
      // No pino instrumentation: its mixin re-merged every access line (~15 µs per request,
      // profiled); the lines that belong to a request name trace_id/span_id from the observation.
      // Command names only: keys and arguments hold key hashes and tenants' counters. Without the
      // loader hook it could not see ioredis load (an ESM import of a CommonJS package).
      instrumentations: libraries.redis ? [new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command })] : [],
    });
    sdk.start();
    const origin = spanOriginOf(trace.getTracerProvider(), resources.defaultResource(), fromEnv.createSpanLimitsFromEnv() ?? {});
    await origin.resource.waitForAsyncAttributes?.();
    // The propagation the NodeSDK set up from OTEL_PROPAGATORS (W3C trace context and baggage by default).
    useSpanPipeline({ processor, sampler, idGenerator, propagator: propagation, origin, exportCounts });
    const endpoint = endpointOf(env);
    return {
      state: 'on',
      reason: undefined,
      report: (log) => {
        problems.attach(log);
        log.info(
          { endpoint, protocol, sampler: env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on', capture_content: settings.captureContent },
          'tracing on: spans are exported over OTLP',
        );
      },
      shutdown: async () => {
        useSpanPipeline(undefined);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((done) => {
          timer = setTimeout(done, settings.shutdownTimeoutMs, 'timeout');
        });
        try {
          const outcome = await Promise.race([sdk.shutdown(), deadline]);
          if (outcome === 'timeout') problems.shutdownFailed(new Error(`queued spans not exported within ${settings.shutdownTimeoutMs} ms`));
        } catch (error) {
          problems.shutdownFailed(error);
        } finally {
          clearTimeout(timer);
        }
      },
    };
  } catch (error) {
    useSpanPipeline(undefined);
    return inactive('failed', `the OpenTelemetry SDK did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function offReason(settings: TracingConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (!settings.enabled) return 'tracing.enabled is false';
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return 'OTEL_SDK_DISABLED is true';
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim().toLowerCase());
  if (exporters.includes('none')) return 'OTEL_TRACES_EXPORTER is none';
  if (endpointOf(env) === undefined) return 'no OTLP endpoint (set OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)';
  return undefined;
}

function endpointOf(env: NodeJS.ProcessEnv): string | undefined {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return endpoint === '' ? undefined : endpoint;
}

function protocolText(env: NodeJS.ProcessEnv): string {
  return (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || 'http/protobuf').toLowerCase();
}

function inactive(state: 'off' | 'failed', reason: string): TracingRuntime {
  return {
    state,
    reason,
    report: (log) => {
      if (state === 'off') log.info({ reason }, 'tracing off');
      else log.warn({ reason }, 'tracing could not start: requests are served without traces');
    },
    shutdown: async () => {},
  };
}

/**
 * Where export failures are told: the process log once it exists. A failure before then is kept
 * (the first one only) and written when the log attaches.
 */
class ExportProblemSink implements ExportProblemLog {
  private log: Logger | undefined;
  private pending: { readonly kind: 'failing' | 'recovered'; readonly error: unknown } | undefined;

  attach(log: Logger): void {
    this.log = log;
    const pending = this.pending;
    this.pending = undefined;
    if (pending?.kind === 'failing') this.exportFailing(pending.error);
  }

  exportFailing(error: unknown): void {
    if (this.log === undefined) {
      this.pending ??= { kind: 'failing', error };
      return;
    }
    this.log.warn(
      { err: error },
      'trace export is failing: spans are dropped once the export queue is full; requests are unaffected (logged once until export recovers)',
    );
  }

  exportRecovered(): void {
    if (this.log === undefined) {
      this.pending = undefined;
      return;
    }
    this.log.info('trace export recovered');
  }

  shutdownFailed(error: unknown): void {
    this.log?.warn({ err: error }, 'the tracing SDK did not shut down cleanly; queued spans may be lost');
  }
}
