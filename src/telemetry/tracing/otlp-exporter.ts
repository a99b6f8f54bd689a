import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer, TraceExporterMetricsHelper, type ISerializer, type IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';
import { TraceFlags } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OtlpSpanEncoder } from './otlp-span-encoder.js';

/**
 * The OTLP span exporters of @opentelemetry/exporter-trace-otlp-proto and -grpc, put together
 * from the same parts they are (transport, retries with backoff, bounded concurrent exports,
 * every OTEL_EXPORTER_OTLP_* setting: endpoint, headers, timeout, compression, certificates)
 * with one part swapped: the request body is encoded by `OtlpSpanEncoder`. Encoding runs on the
 * event loop for every batch; with the standard serializer it was the largest single part of
 * tracing's CPU in the gateway's profile.
 */

export type TraceProtocol = 'http/protobuf' | 'grpc';

/** The component types the standard exporters report in their self-observability metrics. */
const HTTP_COMPONENT_TYPE = 'otlp_http_span_exporter';
const GRPC_COMPONENT_TYPE = 'otlp_grpc_span_exporter';
const GRPC_SERVICE = 'TraceExportService';
const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** One encoder per exporter: its caches of encoded keys and pairs last from batch to batch. */
function leanSerializer(encoder: OtlpSpanEncoder): ISerializer<ReadableSpan[], IExportTraceServiceResponse> {
  return {
    serializeRequest: (spans) => encoder.encode(spans),
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
}

/** An OTLP exporter and the encoder it writes request bodies with (`encodedAtEnd` shares it). */
export interface OtlpTraceExport {
  readonly exporter: SpanExporter;
  readonly encoder: OtlpSpanEncoder;
}

/** The transport of the other protocol is never loaded (gRPC brings @grpc/grpc-js with it). */
export async function otlpTraceExport(protocol: TraceProtocol): Promise<OtlpTraceExport> {
  const encoder = new OtlpSpanEncoder();
  return { exporter: await otlpTraceExporter(protocol, encoder), encoder };
}

/**
 * The span processor request spans go to: each sampled span is encoded as it ends
 * (`OtlpSpanEncoder.encodeEarly`, for the reason `EncodedSpan` gives) and queued as bytes in
 * `processor`, the batch processor in front of the exporter that writes with the same `encoder`.
 * Unsampled spans go as they are (the batch processor drops them).
 */
export function encodedAtEnd(processor: Pick<SpanProcessor, 'onEnd'>, encoder: OtlpSpanEncoder): Pick<SpanProcessor, 'onEnd'> {
  return {
    onEnd: (span) => {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return processor.onEnd(span);
      // The batch processor reads only the sampled flag and the resource of what it queues; the encoder reads the rest.
      processor.onEnd(encoder.encodeEarly(span) as unknown as ReadableSpan);
    },
  };
}

async function otlpTraceExporter(protocol: TraceProtocol, encoder: OtlpSpanEncoder): Promise<SpanExporter> {
  if (protocol === 'grpc') {
    const { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } = await import('@opentelemetry/otlp-grpc-exporter-base');
    return new OTLPExporterBase(
      createOtlpGrpcExportDelegate(
        convertLegacyOtlpGrpcOptions({}, 'TRACES'),
        leanSerializer(encoder),
        GRPC_COMPONENT_TYPE,
        TraceExporterMetricsHelper,
        undefined,
        GRPC_SERVICE,
        GRPC_PATH,
      ),
    );
  }
  const { convertLegacyHttpOptions, createOtlpHttpExportDelegate } = await import('@opentelemetry/otlp-exporter-base/node-http');
  return new OTLPExporterBase(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
      leanSerializer(encoder),
      HTTP_COMPONENT_TYPE,
      TraceExporterMetricsHelper,
      undefined,
    ),
  );
}
