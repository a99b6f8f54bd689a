import type { RequestObservation } from './observation.js';

/**
 * W3C Trace Context level 2 `traceresponse`: the response header that names the request's trace,
 * so a client or an operator can open the trace from the response alone.
 */
export const TRACE_RESPONSE_HEADER = 'traceresponse';

/** One upstream try as the proxy dispatches it (proxy/upstream-exchange.ts `UpstreamTarget` is one). */
export interface UpstreamAttemptTarget {
  readonly replica: { readonly name: string; readonly origin: string };
  /** The try's request options: a listener may add headers to them (`traceparent`). */
  readonly options: { readonly headers?: unknown };
}

/**
 * What a concern that follows the request while it runs (tracing) is told, set on the observation
 * (`observation.trace`) when the request starts. Only the few events that happen once or a few
 * times per request come here; per-chunk facts stay plain writes into the observation, so the
 * relay pays nothing per chunk for it.
 */
export interface RequestListener {
  /** The value of the `traceresponse` header for this request's responses; undefined: send none. */
  readonly traceResponse: string | undefined;
  /** An upstream try is dispatched now (`performance.now()` ms); it may write into the try's headers. */
  attemptStarted(target: UpstreamAttemptTarget, now: number): void;
  /** The current try failed before an answer and the request moves on to another replica. */
  attemptFailed(error: unknown, now: number): void;
  /** Runs `work` in the request's context (a library call it makes synchronously belongs to the request). */
  within<T>(work: () => T): T;
}

/** Runs `work` in the request's context when something listens to the request (a plain call otherwise). */
export function inRequestContext<T>(observation: RequestObservation, work: () => T): T {
  const listener = observation.trace;
  return listener === undefined ? work() : listener.within(work);
}
