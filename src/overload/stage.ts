import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/key-ring.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { OverloadAction } from './admission.js';
import { clampCompletionCap } from './clamp.js';
import type { OverloadConfig, OverloadLevel, PriorityClass } from './config.js';
import type { OverloadController } from './controller.js';

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
 * closes. With the gateway queue, a queued class waits (the returned promise) for a release, or is
 * shed when the queue is full or its deadline passes. It writes facts into the observation;
 * telemetry counts them.
 */
export function createOverloadStage(config: OverloadConfig, controller: OverloadController): (request: FastifyRequest, reply: FastifyReply) => Promise<void> | undefined {
  return (request, reply) => {
    const model = request.inference.fields.model;
    if (model === undefined) return undefined;
    const priority = priorityOf(request.principal, config.tenantPriorities);
    const verdict = controller.decide(model, priority);
    if (verdict === undefined) return undefined;
    const decided = { model, priority, level: verdict.level };
    if (verdict.action === 'shed') return shed(request, reply, controller, decided, verdict.retryAfterSeconds!, undefined);
    if (verdict.action !== 'queued' || priority === 'critical') {
      forward(request, reply, config, controller, decided, verdict.action === 'clamped', undefined);
      return undefined;
    }
    // Held in the gateway queue: the request goes on when released, or is shed.
    const queuedAt = performance.now();
    const held = controller.hold(model, priority, request.principal?.tenant ?? 'default');
    reply.raw.once('close', held.cancel);
    return held.outcome.then((outcome) => {
      reply.raw.removeListener('close', held.cancel);
      const queuedMs = performance.now() - queuedAt;
      if (outcome !== 'released') return shed(request, reply, controller, decided, controller.retryAfterFor(model), queuedMs);
      // Released: the model is out of overload, but a clamped class stays clamped until it is normal.
      const levelNow = controller.decide(model, priority)?.level ?? 'normal';
      forward(request, reply, config, controller, decided, levelNow !== 'normal' && config.clamp.enabled && config.clamp.classes.includes(priority), queuedMs);
      return undefined;
    });
  };
}

interface Decided {
  readonly model: string;
  readonly priority: PriorityClass;
  readonly level: OverloadLevel;
}

function record(request: FastifyRequest, controller: OverloadController, decided: Decided, action: OverloadAction, clampedTo: number | undefined, queuedMs: number | undefined): void {
  request.observation.overload = { priority: decided.priority, level: decided.level, action, clampedTo, queuedMs };
  controller.counted(decided.model, decided.priority, action);
}

function shed(request: FastifyRequest, reply: FastifyReply, controller: OverloadController, decided: Decided, retryAfterSeconds: number, queuedMs: number | undefined): never {
  record(request, controller, decided, 'shed', undefined, queuedMs);
  // On the raw response, so it survives fastify's error reply.
  reply.raw.setHeader('retry-after', String(retryAfterSeconds));
  throw new GatewayError('overloaded', `The model "${decided.model}" is overloaded and ${decided.priority} requests are being shed; retry after ${retryAfterSeconds} s.`);
}

/** Lets the request through, its completion cap clamped when asked to, and counts it in flight until its response closes. */
function forward(request: FastifyRequest, reply: FastifyReply, config: OverloadConfig, controller: OverloadController, decided: Decided, clamp: boolean, queuedMs: number | undefined): void {
  let action: OverloadAction = 'admitted';
  const body = request.inference.body;
  if (clamp && body !== undefined) {
    const clamped = clampCompletionCap(body, request.inference.endpoint?.operation, config.clamp.maxTokens);
    if (clamped !== undefined) {
      request.inference = { ...request.inference, body: clamped };
      request.observation.requestJson = clamped.json;
      reply.raw.setHeader(MAX_TOKENS_CLAMPED_HEADER, String(config.clamp.maxTokens));
      action = 'clamped';
    }
  }
  record(request, controller, decided, action, action === 'clamped' ? config.clamp.maxTokens : undefined, queuedMs);
  const end = controller.started(decided.model, decided.priority);
  reply.raw.once('close', () => end(reply.raw.statusCode < 400 && reply.raw.writableFinished));
}
