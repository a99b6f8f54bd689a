import type { onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import { unknownUrl } from '../errors/gateway-error.js';

/**
 * The pass-through allow-list: paths without an explicit route (src/proxy/endpoints.ts, GET
 * /v1/models, the operation routes) that are forwarded to a replica. Anything else is 404
 * unknown_url, decided in onRequest: before the key is checked, the body read or a replica chosen.
 *
 * The default is vLLM's inference routes that Tollbooth has no explicit route for, taken from
 * vLLM's OpenAI server (vllm/entrypoints/serve/render/api_router.py for the two render routes,
 * vllm/entrypoints/pooling/{pooling,classify,score}/api_router.py for the rest; /score, /rerank
 * and /v2/rerank are vLLM's aliases of the explicit /v1/score and /v1/rerank). Left out on purpose:
 *   - vLLM's admin routes (/v1/load_lora_adapter, /v1/unload_lora_adapter, /reset_prefix_cache,
 *     /reset_mm_cache, /sleep, /wake_up, /is_sleeping, /collective_rpc, /scale_elastic_ep,
 *     /start_profile, /stop_profile, /pause, /resume, …): they change the replica for every
 *     tenant, so an operator lists them deliberately;
 *   - /v1/responses/{id}: stored responses are not scoped to a tenant on the replica;
 *   - /v1/messages (Anthropic) and /invocations (SageMaker): their usage is not in the OpenAI
 *     shape the accounting reads.
 */
export const DEFAULT_PASSTHROUGH_PATHS: readonly string[] = [
  '/v1/chat/completions/render',
  '/v1/completions/render',
  '/pooling',
  '/classify',
  '/score',
  '/rerank',
  '/v2/rerank',
];

/**
 * An entry: an exact path ("/v1/files"), or a prefix ending in "/*" ("/v1/files/*", which matches
 * "/v1/files/abc" and "/v1/files/abc/content", not "/v1/files" itself). Only the characters of
 * plain paths; the request-target check refuses dot segments and escapes before matching anyway.
 */
const PASSTHROUGH_PATTERN = /^(\/[A-Za-z0-9_~.-]+)+(\/\*)?$|^\/\*$/;

export const passthroughPatternSchema = z
  .string()
  .regex(PASSTHROUGH_PATTERN, 'use an exact path such as "/v1/files" or a prefix such as "/v1/files/*"')
  .refine((pattern) => !pattern.split('/').some((segment) => segment === '.' || segment === '..'), 'no "." or ".." segments');

/** The `passthrough` section. */
export const passthroughConfigSchema = z
  .object({
    /**
     * Paths forwarded to a replica as they are (routed by the body's `model` when it names one).
     * Exact paths, or prefixes ending in "/*". Default: vLLM's inference routes without an
     * explicit route (DEFAULT_PASSTHROUGH_PATHS); replace the list to add others, such as the
     * LoRA routes, which then any key may call.
     */
    paths: z.array(passthroughPatternSchema).default([...DEFAULT_PASSTHROUGH_PATHS]),
  })
  .strict();

/** Whether the path (the request target before "?") is on the allow-list `patterns`. */
export function passthroughMatcher(patterns: readonly string[]): (path: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) prefixes.push(pattern.slice(0, -1));
    else exact.add(pattern);
  }
  return (path) => {
    if (exact.has(path)) return true;
    for (const prefix of prefixes) if (path.length > prefix.length && path.startsWith(prefix)) return true;
    return false;
  };
}

/**
 * The onRequest gate of the pass-through route: a path off the list is 404 unknown_url, the same
 * answer (and the same "unmatched" route label) as a path no route knows, before the key, the
 * body or a replica is looked at.
 */
export function passthroughGate(patterns: readonly string[]): onRequestHookHandler {
  const allows = passthroughMatcher(patterns);
  return (request, _reply, done) => {
    const target = request.raw.url ?? '';
    const queryAt = target.indexOf('?');
    if (allows(queryAt === -1 ? target : target.slice(0, queryAt))) return done();
    request.observation.route = 'unmatched';
    done(unknownUrl(request));
  };
}
