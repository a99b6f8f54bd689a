import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { InternalErrors, InternalErrorStage } from '../errors/internal-errors.js';
import type { RequestObservation } from './observation.js';
import { tokensOf, type TokenCount } from './request-tokens.js';

export type CostBasis = 'tokens' | 'replica_time' | 'none';

/** What a request cost, in integer nano-units of the configured currency. */
export interface RequestCost {
  readonly nanos: bigint;
  readonly basis: CostBasis;
}

/** Prices a finished request (cost/price-book.ts `PriceBook`). */
export interface RequestPricing {
  costOf(model: string | undefined, replica: string | undefined, tokens: TokenCount, busyShareMs: number): RequestCost;
}

/** The end of a request as every subscriber receives it: what it used, counted once for all of them. */
export interface RequestEnd {
  /**
   * The tokens (exact or estimated) and their cost, the same figures for settlement and telemetry;
   * undefined when the observation could not be read (reported as `measures`).
   */
  readonly usage: { readonly tokens: TokenCount; readonly cost: RequestCost } | undefined;
}

/** The request as it arrived, for subscribers that follow it from the start (tracing reads the trace context). */
export interface RequestArrival {
  readonly headers: IncomingHttpHeaders;
  readonly response: ServerResponse;
}

/** A concern that reacts to requests: telemetry's outputs, rate-limit settlement. */
export interface RequestSubscriber {
  /** Its guard's name: a failure of `ended` is logged and counted in tollbooth_internal_errors_total{stage}. */
  readonly name: InternalErrorStage;
  /**
   * The request arrived and its observation is open (in the request's first hook). Not guarded:
   * it runs inside the request, whose error handling reports a throw.
   */
  started?(observation: RequestObservation, arrival: RequestArrival): void;
  /** The response is over, finished or abandoned; called once per request (a returned promise's rejection is reported too). */
  ended?(observation: RequestObservation, end: RequestEnd): void | Promise<void>;
}

/**
 * The request's lifecycle: stages write facts into the observation as they happen, and the
 * concerns that react to a request subscribe here at wiring time. When the response is over the
 * lifecycle counts the tokens and the cost once and hands them, with the finished observation, to
 * every subscriber in the order they subscribed, synchronously (one request's end reaches all of
 * them before the next one's), each under the guard with its own name, so a failing one is
 * reported and the others still run. Nothing awaits this (it runs after the response), so it
 * never throws.
 */
export class RequestLifecycle {
  private readonly startSubscribers: RequestSubscriber[] = [];
  private readonly endSubscribers: RequestSubscriber[] = [];

  constructor(
    private readonly pricing: RequestPricing,
    private readonly internalErrors: InternalErrors,
  ) {}

  /** Adds `subscriber` after the ones already there: its `ended` runs after theirs. */
  subscribe(subscriber: RequestSubscriber): this {
    if (subscriber.started !== undefined) this.startSubscribers.push(subscriber);
    if (subscriber.ended !== undefined) this.endSubscribers.push(subscriber);
    return this;
  }

  started(observation: RequestObservation, arrival: RequestArrival): void {
    for (const subscriber of this.startSubscribers) subscriber.started!(observation, arrival);
  }

  ended(observation: RequestObservation): void {
    const requestId = observation.requestId;
    const end: RequestEnd = {
      usage: this.internalErrors.attempt(
        'measures',
        () => {
          const tokens = tokensOf(observation);
          return { tokens, cost: this.pricing.costOf(observation.requestedModel, observation.replica, tokens, observation.replicaBusyShareMs) };
        },
        requestId,
      ),
    };
    for (const subscriber of this.endSubscribers) this.internalErrors.run(subscriber.name, () => subscriber.ended!(observation, end), requestId);
  }
}
