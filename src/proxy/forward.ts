import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TollboothConfig } from '../config/schema.js';
import type { Router } from '../routing/router.js';
import { resolveRoutingFields, type RequestBody } from '../server/request-body.js';
import type { InferenceEndpoint } from './endpoints.js';
import { rewriteRequestHeaders } from './headers.js';
import { withStreamUsage } from './stream-usage-request.js';
import { UpstreamExchange } from './upstream-exchange.js';
import type { UpstreamPools } from './upstream-pools.js';

export interface ForwardDependencies {
  readonly router: Router;
  readonly pools: UpstreamPools;
  readonly upstream: TollboothConfig['upstream'];
  /** Tap streams and read usage from bodies (metrics.enabled). */
  readonly observeResponses: boolean;
  /** Ask replicas for the usage event of streams whose clients did not (metrics.requestStreamUsage). */
  readonly requestStreamUsage: boolean;
}

/** Endpoints whose streams accept stream_options.include_usage (vLLM's chat and completions). */
const STREAM_USAGE_OPERATIONS = new Set(['chat', 'text_completion']);

/**
 * The proxy stage: read the routing fields, pick a replica, then hand the raw response to an
 * UpstreamExchange. Anything thrown before the hand-over reaches the error handler; after it,
 * the exchange owns every outcome.
 */
export function createForwarder(dependencies: ForwardDependencies) {
  const { router, pools, upstream, observeResponses, requestStreamUsage } = dependencies;

  return function forward(request: FastifyRequest, reply: FastifyReply, endpoint: InferenceEndpoint | undefined): void {
    const body = request.body as RequestBody | undefined;
    const fields = resolveRoutingFields(endpoint, body, request.headers['content-type']);
    const observation = request.observation;
    observation.requestedModel = fields.model;
    observation.stream = fields.stream;
    observation.requestJson = body?.json;

    const replica = router.pick(fields.model);
    observation.replica = replica.name;

    let outgoingBody = body?.raw;
    if (fields.stream && requestStreamUsage && endpoint !== undefined && STREAM_USAGE_OPERATIONS.has(endpoint.operation)) {
      const withUsage = withStreamUsage(body!.raw, body!.json);
      if (withUsage !== undefined) {
        outgoingBody = withUsage;
        observation.streamUsageRequested = true;
      }
    }

    void reply.hijack();
    const exchange = new UpstreamExchange(reply.raw, observation, replica, {
      requestId: request.id,
      errorBodyLimitBytes: upstream.errorBodyLimitBytes,
      observeResponses,
    });
    exchange.dispatch(pools.for(replica), {
      method: request.method as 'POST',
      path: request.raw.url ?? '/',
      headers: rewriteRequestHeaders(request.headers, {
        requestId: request.id,
        bodyLength: outgoingBody?.length,
        replicaApiKey: replica.apiKey,
      }),
      body: outgoingBody ?? null,
    });
  };
}
