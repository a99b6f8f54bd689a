import { register } from 'node:module';
import type { Logger } from 'pino';
import type { TracingConfig } from './config.js';
import type { TraceProtocol } from './otlp-transport.js';
import { samplerFromEnv } from './sampler-from-env.js';
import { batchSettingsFromEnv } from './span-batcher.js';
import { propagatesW3cOnly, spanOriginOf, useSpanPipeline } from './span-pipeline.js';
import type { ExportProblemLog } from './reporting-exporter.js';

/**
 * The OpenTelemetry SDK of the gateway process. `startTracing` must run before ioredis is first
 * imported (the CLI starts it, then imports the rest dynamically): the ioredis instrumentation
 * patches it as it loads. Everything OpenTelemetry is imported
 * here only when tracing is on, so a gateway without an endpoint loads none of it.
 *
 * Export is configured by the standard variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT (required: no endpoint, no tracing), OTEL_EXPORTER_OTLP_PROTOCOL
 * (http/protobuf by default, or grpc), OTEL_SERVICE_NAME (default tollbooth), OTEL_TRACES_SAMPLER
 * and _ARG (default parentbased_always_on), OTEL_BSP_* (the bounded export queue), OTEL_SDK_DISABLED.
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

export async function startTracing(settings: TracingConfig, env: NodeJS.ProcessEnv = process.env): Promise<TracingRuntime> {
  const off = offReason(settings, env);
  if (off !== undefined) return inactive('off', off);
  const protocol = protocolOf(env);
  if (protocol === undefined) {
    return inactive('failed', `OTEL_EXPORTER_OTLP_PROTOCOL "${protocolText(env)}" is not supported (use http/protobuf or grpc)`);
  }
  try {
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: HOOKED_MODULES } });
    const [{ NodeSDK, tracing, core, resources }, { trace, propagation }, { IORedisInstrumentation }, { ExportHealth, ReportingExporter }, { SynchronousContextManager }] = await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/api'),
      import('@opentelemetry/instrumentation-ioredis'),
      import('./reporting-exporter.js'),
      import('./synchronous-context.js'),
    ]);
    const problems = new ExportProblemSink();
    const health = new ExportHealth(problems);
    const { otlpTraceExport } = await import('./otlp-exporter.js');
    const otlp = otlpTraceExport(protocol, { env });
    const batch = batchSettingsFromEnv(env);
    // Library spans (ioredis): the SDK's bounded export queue of OTEL_BSP_* (2048 spans by default;
    // full: dropped, never blocking). Request spans go to the export thread as facts (below).
    const processor = new tracing.BatchSpanProcessor(new ReportingExporter(otlp.exporter, health), batch);
    // One sampler (OTEL_TRACES_SAMPLER and _ARG) for request spans and library spans alike.
    const sampler = samplerFromEnv(env, tracing);
    const sdk = new NodeSDK({
      // OTEL_SERVICE_NAME (read by the environment detector) wins over this default.
      ...(env.OTEL_SERVICE_NAME === undefined || env.OTEL_SERVICE_NAME === '' ? { serviceName: 'tollbooth' } : {}),
      spanProcessors: [processor],
      sampler,
      // No AsyncLocalStorage: it would put an async_hooks init call on every relayed chunk's write.
      contextManager: new SynchronousContextManager(),
      // Metrics are Prometheus' job and logs go to stdout: nothing else is exported.
      metricReaders: [],
      logRecordProcessors: [],
      // No pino instrumentation: its mixin re-merged every access line (~15 µs per request,
      // profiled); the lines that belong to a request name trace_id/span_id from the observation.
      instrumentations: [
        // Command names only: keys and arguments hold key hashes and tenants' counters.
        new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
      ],
    });
    sdk.start();
    const parseTraceState = (header: string) => new core.TraceState(header);
    const origin = spanOriginOf(trace.getTracerProvider(), parseTraceState, resources.defaultResource(), env);
    await origin.resource.waitForAsyncAttributes?.();
    // Request spans: built, batched (OTEL_BSP_*, the same bound), encoded and sent on the export thread.
    const requestSpans = otlp.exporter.requestSpans(
      { resourceAttributes: origin.resource.attributes, resourceSchemaUrl: origin.resource.schemaUrl, scope: origin.scope, limits: origin.limits, batch },
      (result) => health.record(result),
    );
    useSpanPipeline({
      requestSpans,
      sampler,
      parseTraceState,
      // Other propagators (b3, jaeger…): through the global propagation the SDK set up from OTEL_PROPAGATORS.
      ...(propagatesW3cOnly(env) ? {} : { propagator: propagation }),
    });
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

function protocolOf(env: NodeJS.ProcessEnv): TraceProtocol | undefined {
  const protocol = protocolText(env);
  return protocol === 'http/protobuf' || protocol === 'grpc' ? protocol : undefined;
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
