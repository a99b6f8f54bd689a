import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer, TraceExporterMetricsHelper, type ISerializer, type IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
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
function leanSerializer(): ISerializer<ReadableSpan[], IExportTraceServiceResponse> {
  const encoder = new OtlpSpanEncoder();
  return {
    serializeRequest: (spans) => encoder.encode(spans),
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
}

/** The transport of the other protocol is never loaded (gRPC brings @grpc/grpc-js with it). */
export async function otlpTraceExporter(protocol: TraceProtocol): Promise<SpanExporter> {
  if (protocol === 'grpc') {
    const { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } = await import('@opentelemetry/otlp-grpc-exporter-base');
    return new OTLPExporterBase(
      createOtlpGrpcExportDelegate(
        convertLegacyOtlpGrpcOptions({}, 'TRACES'),
        leanSerializer(),
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
      leanSerializer(),
      HTTP_COMPONENT_TYPE,
      TraceExporterMetricsHelper,
      undefined,
    ),
  );
}
