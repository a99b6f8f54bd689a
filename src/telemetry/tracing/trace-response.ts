/**
 * The W3C Trace Context level 2 `traceresponse` value (lifecycle/request-listener.ts
 * TRACE_RESPONSE_HEADER): every response of a sampled request names its trace (version, trace id,
 * the gateway's SERVER span id, sampled flag), so a client or an operator can open the trace from
 * the response alone. Unsampled requests get none: no link to a missing trace.
 */
export function traceResponseValue(traceId: string, spanId: string | undefined): string {
  return `00-${traceId}-${spanId ?? '0000000000000000'}-01`;
}
