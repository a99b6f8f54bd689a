import type { ServerResponse } from 'node:http';

import type { EngineContext } from './engine-context.js';
import { NOT_FOUND_BODY } from './errors.js';
import { sendBody, sendJson } from './http-io.js';
import { createPrng, hexId, hashString } from './prng.js';
import { SEEDED_CREATED } from './request-seed.js';

/** `GET /v1/models` in vLLM's ModelList/ModelCard shape, fully dumped. */
export function modelsBody(ctx: EngineContext): string {
  const seeded = ctx.options.seed !== undefined;
  const created = seeded ? SEEDED_CREATED : Math.floor(Date.now() / 1000);
  const data = ctx.options.models.map((model) => {
    const permissionId = `modelperm-${hexId(createPrng(seeded ? hashString(model, ctx.options.seed) : (Math.random() * 2 ** 32) >>> 0))}`;
    return {
      id: model,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: model,
      parent: null,
      max_model_len: ctx.options.maxModelLen,
      permission: [
        {
          id: permissionId,
          object: 'model_permission',
          created,
          allow_create_engine: false,
          allow_sampling: true,
          allow_logprobs: true,
          allow_search_indices: false,
          allow_view: true,
          allow_fine_tuning: false,
          organization: '*',
          group: null,
          is_blocking: false,
        },
      ],
    };
  });
  return JSON.stringify({ object: 'list', data });
}

export function sendModels(ctx: EngineContext, res: ServerResponse, requestId: string): void {
  sendJson(res, 200, modelsBody(ctx), requestId);
}

/** vLLM's /health is an empty 200 (FastAPI `Response(status_code=200)`). */
export function sendHealth(res: ServerResponse, requestId: string): void {
  sendBody(res, 200, null, '', requestId);
}

export function sendVersion(ctx: EngineContext, res: ServerResponse, requestId: string): void {
  sendJson(res, 200, JSON.stringify({ version: ctx.options.vllmVersion }), requestId);
}

export async function sendMetrics(ctx: EngineContext, res: ServerResponse, requestId: string): Promise<void> {
  const text = await ctx.metrics.registry.metrics();
  sendBody(res, 200, ctx.metrics.registry.contentType, text, requestId);
}

/** `GET /dcgm/metrics`: the simulated GPU as NVIDIA's DCGM exporter shows one (dcgm.ts). */
export async function sendDcgmMetrics(ctx: EngineContext, res: ServerResponse, requestId: string): Promise<void> {
  const text = await ctx.dcgm.registry.metrics();
  sendBody(res, 200, ctx.dcgm.registry.contentType, text, requestId);
}

/** `GET /sim/truth` (all records) and `GET /sim/truth/:id`. */
export function sendTruth(ctx: EngineContext, res: ServerResponse, requestId: string, truthId: string | null): void {
  if (truthId === null) {
    sendJson(res, 200, JSON.stringify(ctx.truth.all()), requestId);
    return;
  }
  const record = ctx.truth.get(truthId);
  if (record === undefined) sendJson(res, 404, NOT_FOUND_BODY, requestId);
  else sendJson(res, 200, JSON.stringify(record), requestId);
}
