import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/key-ring.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { OverloadAction } from './admission.js';
import { clampCompletionCap } from './clamp.js';
import type { OverloadConfig, OverloadLevel, PriorityClass } from './config.js';
import type { OverloadController } from './controller.js';

/** What overload control did to a request (the observation's `overload`). */
export interface OverloadFacts {
  readonly priority: PriorityClass;
  readonly level: OverloadLevel;
  readonly action: OverloadAction;
  /** The ceiling max_tokens was brought down to, when clamped. */
  readonly clampedTo: number | undefined;
}

export const MAX_TOKENS_CLAMPED_HEADER = 'x-tollbooth-max-tokens-clamped';

/** A request's class: its key's own priority, else its tenant's (overload.tenantPriorities), else standard. */
export function priorityOf(principal: Principal | undefined, tenantPriorities: OverloadConfig['tenantPriorities']): PriorityClass {
  if (principal === undefined) return 'standard';
  return principal.policy.priority ?? (Object.hasOwn(tenantPriorities, principal.tenant) ? tenantPriorities[principal.tenant]! : 'standard');
}

/**
 * The overload stage (a preHandler after the model allow-list and the guardrails, before the rate
 * limits, so a shed request reserves nothing and a clamped one reserves its new max_tokens): asks
 * the controller what the model's level means for the request's class, sheds it (503 overloaded,
 * Retry-After from the drain rate), or rewrites its completion cap and says so in
 * `x-tollbooth-max-tokens-clamped`. Admitted requests are counted in flight until their response
 * closes. It writes facts into the observation; telemetry counts them.
 */
export function createOverloadStage(config: OverloadConfig, controller: OverloadController): (request: FastifyRequest, reply: FastifyReply) => void {
  return (request, reply) => {
    const model = request.inference.fields.model;
    if (model === undefined) return;
    const priority = priorityOf(request.principal, config.tenantPriorities);
    const verdict = controller.decide(model, priority);
    if (verdict === undefined) return;
    const observation = request.observation;
    const record = (action: OverloadAction, clampedTo?: number): void => {
      observation.overload = { priority, level: verdict.level, action, clampedTo };
      controller.counted(model, priority, action);
    };

    if (verdict.action === 'shed') {
      record('shed');
      // On the raw response, so it survives fastify's error reply.
      reply.raw.setHeader('retry-after', String(verdict.retryAfterSeconds));
      throw new GatewayError('overloaded', `The model "${model}" is overloaded and ${priority} requests are being shed; retry after ${verdict.retryAfterSeconds} s.`);
    }

    let action: OverloadAction = 'admitted';
    const body = request.inference.body;
    if (verdict.action === 'clamped' && body !== undefined) {
      const clamped = clampCompletionCap(body, request.inference.endpoint?.operation, config.clamp.maxTokens);
      if (clamped !== undefined) {
        request.inference = { ...request.inference, body: clamped };
        observation.requestJson = clamped.json;
        reply.raw.setHeader(MAX_TOKENS_CLAMPED_HEADER, String(config.clamp.maxTokens));
        action = 'clamped';
      }
    }
    record(action, action === 'clamped' ? config.clamp.maxTokens : undefined);
    reply.raw.once('close', controller.started(model, priority));
  };
}
