import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer, type IExporterMetricsHelper, type ISerializer, type IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';

/**
 * The sending half of the standard OTLP span exporters (@opentelemetry/exporter-trace-otlp-proto
 * and -grpc), put together from the same parts they are: transport, retries with backoff, bounded
 * concurrent exports and every OTEL_EXPORTER_OTLP_* setting (endpoint, headers, timeout,
 * compression, certificates), read from the environment of the thread that builds it. What it
 * sends is a request body `OtlpSpanEncoder` already encoded, so it needs none of the span objects.
 */

export type TraceProtocol = 'http/protobuf' | 'grpc';

/** An encoded ExportTraceServiceRequest and how many spans it holds (for the SDK's exporter metrics). */
export interface EncodedBatch {
  readonly body: Uint8Array;
  readonly spans: number;
}

/** The component types the standard exporters report in their self-observability metrics. */
const HTTP_COMPONENT_TYPE = 'otlp_http_span_exporter';
const GRPC_COMPONENT_TYPE = 'otlp_grpc_span_exporter';
const GRPC_SERVICE = 'TraceExportService';
const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const ENCODED: ISerializer<EncodedBatch, IExportTraceServiceResponse> = {
  serializeRequest: (batch) => batch.body,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

const SPANS_IN_BATCH: IExporterMetricsHelper<EncodedBatch> = { name: 'span', countItems: (batch) => batch.spans };

/** The transport of the other protocol is never loaded (gRPC brings @grpc/grpc-js with it). */
export async function otlpTraceTransport(protocol: TraceProtocol): Promise<IOtlpExportDelegate<EncodedBatch>> {
  if (protocol === 'grpc') {
    const { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } = await import('@opentelemetry/otlp-grpc-exporter-base');
    return createOtlpGrpcExportDelegate(convertLegacyOtlpGrpcOptions({}, 'TRACES'), ENCODED, GRPC_COMPONENT_TYPE, SPANS_IN_BATCH, undefined, GRPC_SERVICE, GRPC_PATH);
  }
  const { convertLegacyHttpOptions, createOtlpHttpExportDelegate } = await import('@opentelemetry/otlp-exporter-base/node-http');
  return createOtlpHttpExportDelegate(
    convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
    ENCODED,
    HTTP_COMPONENT_TYPE,
    SPANS_IN_BATCH,
    undefined,
  );
}
