import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';
import type { TokenCounts } from '../cost/cost.js';
import type { RequestObservation } from '../lifecycle/observation.js';
import type { RequestSubscriber } from '../lifecycle/request-lifecycle.js';
import { inRequestContext } from '../lifecycle/request-listener.js';
import type { RateLimitConfig } from './config.js';
import { rateLimitHeaders } from './headers.js';
import type { ConfiguredRateLimiter } from './create.js';
import type { RateLimitDecision, RateLimitTicket } from './limiter.js';
import { reservationOf } from './reservation.js';

const NOTHING_MEASURED: TokenCounts = { input: 0, cachedInput: 0, output: 0 };

/**
 * Settlement's subscription to the end of every request: `settle` is charged the tokens and cost
 * the lifecycle counted, or nothing when the observation could not be read (the reservation and
 * the concurrency slot are still released).
 */
export function settlementSubscriber(settle: (observation: RequestObservation, tokens: TokenCounts, costNanos: bigint) => void | Promise<void>): RequestSubscriber {
  return { name: 'settlement', ended: (observation, { usage }) => settle(observation, usage?.tokens ?? NOTHING_MEASURED, usage?.cost.nanos ?? 0n) };
}

/**
 * The rate-limit stage (a preHandler after auth and the request schema) and its other half, the
 * settlement when the response is over. The ticket of an admitted request is held against the
 * request's observation; settlement subscribes to the request lifecycle, which ends every request
 * exactly once on every outcome (abort included), so each ticket is settled exactly once.
 */
export class RateLimitStage {
  private readonly tickets = new WeakMap<RequestObservation, RateLimitTicket>();

  /** Subscribed to the lifecycle first: whatever else fails after the response, a concurrency slot or reservation is never left held. */
  readonly settlement = settlementSubscriber((observation, tokens, costNanos) => this.settle(observation, tokens, costNanos));

  constructor(
    private readonly limiter: ConfiguredRateLimiter,
    private readonly config: RateLimitConfig,
  ) {}

  readonly admit = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const principal = request.principal;
    if (principal === undefined) return;
    const { endpoint, body, fields } = request.inference;
    const reservedTokens = reservationOf(body?.json, endpoint?.operation, this.config);
    const observation = request.observation;
    const startedAt = performance.now();
    // In the request's trace, so the Redis script (sent synchronously) shows under it.
    const decision = await inRequestContext(observation, () =>
      this.limiter.admit({
        requestId: request.id,
        keyId: principal.keyId,
        tenant: principal.tenant,
        model: fields.model ?? '',
        limits: principal.policy.limits,
        budget: principal.policy.budget,
        reservedTokens,
      }),
    );
    observation.rateLimit = {
      outcome: decision.outcome,
      limitedBy: decision.limitedBy,
      store: decision.store,
      reservedTokens,
      startedAt,
      endedAt: performance.now(),
    };
    // On the raw response, so they survive both fastify's error replies and the proxy's writeHead.
    const headers = rateLimitHeaders(decision);
    for (const name in headers) reply.raw.setHeader(name, headers[name]!);
    if (decision.ticket !== undefined) {
      this.tickets.set(observation, decision.ticket);
      return;
    }
    throw refusal(decision);
  };

  /** Reconciles the reservation with what the request really used; called once per finished request. */
  settle(observation: RequestObservation, tokens: TokenCounts, costNanos: bigint): Promise<void> | undefined {
    const ticket = this.tickets.get(observation);
    if (ticket === undefined) return undefined;
    this.tickets.delete(observation);
    return this.limiter.settle(ticket, { tokens: tokens.input + tokens.output, costNanos, tokenCounts: tokens });
  }

  /** Waits (boundedly) for the shared store; false when it is not reachable yet (the failure policy applies). */
  async connect(timeoutMs: number): Promise<boolean> {
    try {
      await this.limiter.ready(timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.limiter.close();
  }
}

function refusal(decision: RateLimitDecision): GatewayError {
  if (decision.outcome === 'unavailable') return new GatewayError('rate_limit_store_unavailable');
  if (decision.limitedBy === 'budget') return new GatewayError('insufficient_quota');
  const scope = decision.limitedScope === 'key' || decision.limitedScope === undefined ? 'this API key' : `this ${decision.limitedScope}`;
  const wait =
    decision.retryAfterMs === undefined
      ? 'The request is larger than the limit allows; it cannot pass as sent (lower max_tokens).'
      : `Retry after ${Math.ceil(decision.retryAfterMs)} ms.`;
  return new GatewayError('rate_limit_exceeded', `Rate limit reached for ${LIMIT_NAMES[decision.limitedBy ?? 'requests']} of ${scope}. ${wait}`);
}

const LIMIT_NAMES = {
  requests: 'requests per minute',
  tokens: 'tokens per minute',
  concurrency: 'concurrent requests',
  budget: 'spend',
} as const;
