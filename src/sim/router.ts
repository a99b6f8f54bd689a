import type { IncomingMessage, ServerResponse } from 'node:http';

import {
  handleDetokenize,
  handleEmbeddings,
  handleRerank,
  handleScore,
  handleTokenize,
  handleTranscriptions,
} from './aux-endpoints.js';
import { nowMs } from './clock.js';
import type { EngineContext } from './engine-context.js';
import { METHOD_NOT_ALLOWED_BODY, NOT_FOUND_BODY, SimRequestError, UNAUTHORIZED_BODY, errorBody } from './errors.js';
import { handleChatCompletions, handleCompletions, handleResponses } from './generate-endpoints.js';
import { readBody, sendJson } from './http-io.js';
import type { InboundRequest, PostHandler } from './inbound.js';
import { sendDcgmMetrics, sendHealth, sendMetrics, sendModels, sendTruth, sendVersion } from './info-endpoints.js';
import { parseJsonObject, type JsonObject } from './request-fields.js';
import { generatedRequestId } from './request-seed.js';
import { newTruthRecord, type TruthRecord } from './truth.js';

const POST_ROUTES = new Map<string, PostHandler>([
  ['/v1/chat/completions', handleChatCompletions],
  ['/v1/completions', handleCompletions],
  ['/v1/responses', handleResponses],
  ['/v1/embeddings', handleEmbeddings],
  ['/v1/score', handleScore],
  ['/score', handleScore],
  ['/v1/rerank', handleRerank],
  ['/rerank', handleRerank],
  ['/v2/rerank', handleRerank],
  ['/tokenize', handleTokenize],
  ['/detokenize', handleDetokenize],
  ['/v1/audio/transcriptions', handleTranscriptions],
]);

type GetHandler = (ctx: EngineContext, res: ServerResponse, requestId: string) => void | Promise<void>;

const GET_ROUTES = new Map<string, GetHandler>([
  ['/v1/models', sendModels],
  ['/health', (_ctx, res, id) => sendHealth(res, id)],
  ['/ping', (_ctx, res, id) => sendHealth(res, id)],
  ['/version', sendVersion],
  ['/metrics', sendMetrics],
  ['/dcgm/metrics', sendDcgmMetrics],
  ['/sim/truth', (ctx, res, id) => sendTruth(ctx, res, id, null)],
]);

const TRUTH_PREFIX = '/sim/truth/';
/** Request bodies above this are refused (vLLM has no hard limit; this only guards the process). */
const BODY_LIMIT_BYTES = 64 * 1024 * 1024;

/** vLLM's `--api-key` check: only /v1 paths, `Authorization: Bearer <key>`. */
function authorized(ctx: EngineContext, req: IncomingMessage, path: string): boolean {
  const key = ctx.options.apiKey;
  if (key === undefined || !path.startsWith('/v1')) return true;
  return req.headers.authorization === `Bearer ${key}`;
}

function failRequest(ctx: EngineContext, res: ServerResponse, requestId: string, truth: TruthRecord, error: unknown): void {
  const known = error instanceof SimRequestError;
  const status = known ? error.status : 500;
  const message = error instanceof Error ? error.message : String(error);
  sendJson(res, status, errorBody(ctx.options.errorStyle, message, status, known ? error.param : null), requestId, truth);
  ctx.truth.finish(truth, 'error', nowMs());
}

async function handlePost(
  ctx: EngineContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  handler: PostHandler,
  requestId: string,
  inboundRequestId: string | undefined,
): Promise<void> {
  const truth = ctx.truth.begin(newTruthRecord(requestId, path, nowMs()));
  let body: Buffer | null;
  try {
    body = await readBody(req, BODY_LIMIT_BYTES);
  } catch {
    truth.clientClosedAt = nowMs();
    ctx.truth.finish(truth, 'client_closed', truth.clientClosedAt);
    return;
  }
  if (body === null) {
    failRequest(ctx, res, requestId, truth, new SimRequestError(413, 'Request body too large'));
    return;
  }
  let parsed: JsonObject | null = null;
  const readBodyBytes = body;
  const inbound: InboundRequest = {
    req,
    res,
    requestId,
    inboundRequestId,
    body: readBodyBytes,
    truth,
    json: () => (parsed ??= parseJsonObject(readBodyBytes)),
  };
  try {
    handler(ctx, inbound);
  } catch (error) {
    failRequest(ctx, res, requestId, truth, error);
  }
}

/** The whole HTTP surface: a static route table over bare node:http, no framework. */
export function createRequestListener(ctx: EngineContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const header = req.headers['x-request-id'];
    const inboundRequestId = typeof header === 'string' && header !== '' ? header : undefined;
    const requestId = inboundRequestId ?? generatedRequestId();

    if (!authorized(ctx, req, path)) {
      sendJson(res, 401, UNAUTHORIZED_BODY, requestId);
      req.resume();
      return;
    }
    const post = POST_ROUTES.get(path);
    const get = GET_ROUTES.get(path);
    if (req.method === 'POST' && post !== undefined) {
      void handlePost(ctx, req, res, path, post, requestId, inboundRequestId);
      return;
    }
    req.resume();
    if (req.method === 'GET' && get !== undefined) {
      Promise.resolve(get(ctx, res, requestId)).catch((error: unknown) => {
        sendJson(res, 500, errorBody(ctx.options.errorStyle, String(error), 500), requestId);
      });
      return;
    }
    if (req.method === 'GET' && path.startsWith(TRUTH_PREFIX)) {
      sendTruth(ctx, res, requestId, decodeURIComponent(path.slice(TRUTH_PREFIX.length)));
      return;
    }
    if (req.method === 'DELETE' && path === '/sim/truth') {
      ctx.truth.clear();
      sendJson(res, 200, '{}', requestId);
      return;
    }
    const known = post !== undefined || get !== undefined;
    sendJson(res, known ? 405 : 404, known ? METHOD_NOT_ALLOWED_BODY : NOT_FOUND_BODY, requestId);
  };
}
