import { nowMs } from './clock.js';
import type { EngineContext } from './engine-context.js';
import { SimRequestError, errorBody } from './errors.js';
import { FAULT_HEADER, parseFaultHeader, planFaults, type FaultPlan } from './faults.js';
import { sendJson } from './http-io.js';
import type { InboundRequest } from './inbound.js';
import type { Prng } from './prng.js';

/**
 * The request's fault plan: its `x-sim-fault` header, plus the configured random faults when a
 * PRNG is given (only generation endpoints draw them). A malformed header is a 400.
 */
export function requestFaults(ctx: EngineContext, inbound: InboundRequest, prng: Prng | null): FaultPlan {
  const raw = inbound.req.headers[FAULT_HEADER];
  const header = typeof raw === 'string' ? raw : undefined;
  try {
    return prng === null ? parseFaultHeader(header) : planFaults(header, ctx.options.faults, prng);
  } catch (error) {
    throw new SimRequestError(400, error instanceof Error ? error.message : String(error));
  }
}

/** Answers an `error:STATUS` fault with a vLLM error body and closes the truth record as `fault`. */
export function respondWithFault(ctx: EngineContext, inbound: InboundRequest, status: number): void {
  const message = `Simulated failure (${FAULT_HEADER}: error:${status})`;
  sendJson(inbound.res, status, errorBody(ctx.options.errorStyle, message, status), inbound.requestId, inbound.truth);
  ctx.truth.finish(inbound.truth, 'fault', nowMs());
}
