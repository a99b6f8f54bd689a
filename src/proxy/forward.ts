import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { InternalErrors } from '../errors/internal-errors.js';
import type { RoutingConfig } from '../routing/config.js';
import type { Replica } from '../routing/replica.js';
import type { Router } from '../routing/router.js';
import { sessionKeyOf, type SessionKey } from '../routing/session-key.js';
import type { UpstreamConfig } from './config.js';
import { rewriteRequestHeaders } from './headers.js';
import type { OpenExchanges } from './open-exchanges.js';
import { withStreamUsage } from './stream-usage-request.js';
import { UpstreamExchange, type FailoverPlan, type UpstreamTarget } from './upstream-exchange.js';
import type { UpstreamPools } from './upstream-pools.js';

export interface ForwardDependencies {
  readonly router: Router;
  readonly pools: UpstreamPools;
  readonly upstream: UpstreamConfig;
  readonly routing: RoutingConfig;
  /** Tap streams and read usage from bodies (metrics.enabled). */
  readonly observeResponses: boolean;
  /** Ask replicas for the usage event of streams whose clients did not (metrics.requestStreamUsage). */
  readonly requestStreamUsage: boolean;
  /** Auth is on: the client's key was the gateway's to check and is not sent upstream. */
  readonly stripClientCredentials: boolean;
  /** The gateway's open exchanges, which the drain deadline ends. */
  readonly openExchanges: OpenExchanges;
  readonly internalErrors: InternalErrors;
}

/** Endpoints whose streams accept stream_options.include_usage (vLLM's chat and completions). */
const STREAM_USAGE_OPERATIONS = new Set(['chat', 'text_completion']);

/**
 * The proxy stage: read the session key, pick a replica, then hand the
 * raw response to an UpstreamExchange with a failover plan (the key's next replicas on the
 * ring, bounded by routing.maxAttempts). Anything thrown before the hand-over reaches the error
 * handler; after it, the exchange owns every outcome.
 */
export function createForwarder(dependencies: ForwardDependencies) {
  const { router, pools, upstream, routing, observeResponses, requestStreamUsage, stripClientCredentials, openExchanges, internalErrors } = dependencies;

  return function forward(request: FastifyRequest, reply: FastifyReply): void {
    const { endpoint, body, fields } = request.inference;
    const observation = request.observation;

    // The tenant joins the session key, so two tenants never share a session (nor its KV cache).
    const key = routing.strategy === 'session' ? sessionKeyOf(request.headers, body?.json, observation.tenant, routing.sessionKey) : undefined;
    observation.sessionKeySource = key?.source;
    const route = router.pick(fields.model, key, performance.now());
    observation.routingOutcome = route.outcome;

    let outgoingBody = body?.raw;
    if (fields.stream && requestStreamUsage && endpoint !== undefined && STREAM_USAGE_OPERATIONS.has(endpoint.operation)) {
      const withUsage = withStreamUsage(body!.raw, body!.json);
      if (withUsage !== undefined) {
        outgoingBody = withUsage;
        observation.streamUsageRequested = true;
      }
    }

    const target = (replica: Replica): UpstreamTarget => ({
      replica,
      dispatcher: pools.for(replica),
      options: {
        method: request.method as Dispatcher.HttpMethod,
        // The target exactly as sent and as checked (src/server/request-target.ts): never rebuilt.
        path: request.raw.url ?? '/',
        headers: rewriteRequestHeaders(request.headers, {
          requestId: request.id,
          bodyLength: outgoingBody?.length,
          replicaApiKey: replica.apiKey,
          stripClientCredentials,
        }),
        body: outgoingBody ?? null,
      },
    });

    void reply.hijack();
    const exchange = new UpstreamExchange(
      reply.raw,
      observation,
      {
        requestId: request.id,
        internalErrors,
        errorBodyLimitBytes: upstream.errorBodyLimitBytes,
        firstByteTimeoutMs: upstream.headersTimeoutMs,
        observeResponses,
        replicaHeader: routing.replicaHeader,
      },
      failoverPlan(router, fields.model, key, route.replica, routing.maxAttempts, target),
      openExchanges,
    );
    exchange.start(target(route.replica));
  };
}

/**
 * The replicas a request may try after its first one fails before answering. Nothing is
 * allocated for the tries until one is needed: almost every request never asks.
 */
function failoverPlan(
  router: Router,
  model: string | undefined,
  key: SessionKey | undefined,
  first: Replica,
  maxAttempts: number,
  target: (replica: Replica) => UpstreamTarget,
): FailoverPlan {
  let tried: Set<Replica> | undefined;
  return {
    next: () => {
      tried ??= new Set([first]);
      if (tried.size >= maxAttempts) return undefined;
      try {
        const { replica } = router.pick(model, key, performance.now(), tried);
        tried.add(replica);
        return target(replica);
      } catch {
        // No other replica can take it now: the original failure is the answer.
        return undefined;
      }
    },
  };
}
