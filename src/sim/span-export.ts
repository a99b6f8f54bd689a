import type { InboundTraceHeaders, LlmRequestSpan } from './request-span.js';
import { otlpTracesUrl } from './request-span.js';

/** Exports the simulator's `llm_request` spans; absent (null) when no endpoint is configured. */
export interface RequestSpanExporter {
  export(span: LlmRequestSpan, parent: InboundTraceHeaders): void;
  /** Sends what is queued (bounded by a timeout) and stops. */
  shutdown(): Promise<void>;
}

export interface RequestSpanExportOptions {
  readonly endpoint: string;
  readonly serviceName: string;
}

/** Short, so a demo or a test sees the engine's span soon after the request ends. */
const EXPORT_DELAY_MS = 200;
/** Spans waiting for export; beyond this they are dropped, so an unreachable collector costs bounded memory. */
const MAX_QUEUED_SPANS = 2048;
const EXPORT_TIMEOUT_MS = 5_000;
const SHUTDOWN_WAIT_MS = 1_000;

/**
 * A tracer of its own over @opentelemetry/sdk-trace-base and the OTLP/HTTP protobuf exporter:
 * nothing global is registered and nothing is instrumented, so a simulator that shares a process
 * with the gateway (tests, `tollbooth demo`) never mixes its spans or context with the gateway's.
 * The SDK is imported only here, and only when an endpoint is given.
 */
export async function createRequestSpanExporter(options: RequestSpanExportOptions): Promise<RequestSpanExporter> {
  const [api, core, resources, sdk, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const exporter = new otlp.OTLPTraceExporter({ url: otlpTracesUrl(options.endpoint), timeoutMillis: EXPORT_TIMEOUT_MS });
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(exporter, {
        scheduledDelayMillis: EXPORT_DELAY_MS,
        maxQueueSize: MAX_QUEUED_SPANS,
        exportTimeoutMillis: EXPORT_TIMEOUT_MS,
      }),
    ],
  });
  const tracer = provider.getTracer('tollbooth-vllm-simulator');
  const propagator = new core.W3CTraceContextPropagator();

  return {
    export(span, parent) {
      // An absent or malformed traceparent leaves the root context: the span starts its own trace, as in vLLM.
      const context = propagator.extract(api.ROOT_CONTEXT, parent, api.defaultTextMapGetter);
      const started = tracer.startSpan(
        span.name,
        { kind: api.SpanKind.SERVER, startTime: span.startTimeMs, attributes: span.attributes },
        context,
      );
      started.end(span.endTimeMs);
    },
    shutdown: async () => {
      // With the collector unreachable a flush would wait out the export timeout; closing must not.
      let timer: NodeJS.Timeout | undefined;
      const capped = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
      });
      await Promise.race([provider.shutdown().catch(() => undefined), capped]);
      clearTimeout(timer);
    },
  };
}
