import { chatPromptTokens, isChatMessageList } from './chat-template.js';
import { nowMs } from './clock.js';
import { embed, embeddingToBase64, relevance } from './embedding.js';
import type { EngineContext } from './engine-context.js';
import { SimRequestError } from './errors.js';
import { requestFaults, respondWithFault } from './fault-responses.js';
import { sendJson } from './http-io.js';
import type { InboundRequest } from './inbound.js';
import { checkPromptLength, resolveModel, type JsonObject } from './request-fields.js';
import { createdAt, randomHexId, requestRandomness } from './request-seed.js';
import { detokenize, isValidTokenId, tokenize } from './tokenizer.js';
import { WORDS } from './vocabulary.js';

/** Answers at once (these endpoints are a single forward pass) and closes the truth record. */
function answer(ctx: EngineContext, inbound: InboundRequest, model: string | null, promptTokens: number, body: string): void {
  const truth = inbound.truth;
  truth.model = model;
  truth.promptTokens = promptTokens;
  const fault = requestFaults(ctx, inbound, null);
  truth.fault = fault.label;
  if (fault.errorStatus !== null) {
    respondWithFault(ctx, inbound, fault.errorStatus);
    return;
  }
  sendJson(inbound.res, 200, body, inbound.requestId, truth);
  ctx.truth.finish(truth, 'completed', nowMs());
}

function usage(promptTokens: number): object {
  return { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0, prompt_tokens_details: null };
}

/** A text input or list of them (token-id lists are decoded first). */
function textInputs(raw: unknown, field: string): string[] {
  const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => isValidTokenId(x as number));
  if (typeof raw === 'string') return [raw];
  if (isIds(raw)) return [detokenize(raw)];
  if (Array.isArray(raw) && raw.length > 0) {
    if (raw.every((x) => typeof x === 'string')) return raw as string[];
    if (raw.every(isIds)) return raw.map((ids) => detokenize(ids));
  }
  throw new SimRequestError(400, `Field required: ${field}`, field);
}

function identity(ctx: EngineContext, inbound: InboundRequest, json: JsonObject): { id: string; created: number } {
  const randomness = requestRandomness(ctx.options.seed, json);
  return { id: randomHexId(randomness), created: createdAt(randomness) };
}

export function handleEmbeddings(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  const inputs = textInputs(json['input'], 'input');
  const base64 = json['encoding_format'] === 'base64';
  const dimension = typeof json['dimensions'] === 'number' && json['dimensions'] > 0 ? Math.floor(json['dimensions']) : ctx.options.embeddingDimension;
  let promptTokens = 0;
  const data = inputs.map((text, index) => {
    const tokens = tokenize(text);
    checkPromptLength(ctx.options, tokens.length);
    promptTokens += tokens.length;
    const vector = embed(tokens, dimension);
    return { index, object: 'embedding', embedding: base64 ? embeddingToBase64(vector) : vector };
  });
  const { id, created } = identity(ctx, inbound, json);
  const body = JSON.stringify({ id: `embd-${id}`, object: 'list', created, model, data, usage: usage(promptTokens) });
  answer(ctx, inbound, model, promptTokens, body);
}

/** Query/document pairs scored by embedding similarity; shared by /v1/score and /v1/rerank. */
function scorePairs(ctx: EngineContext, queries: string[], documents: string[]): { scores: number[]; tokens: number } {
  const dimension = ctx.options.embeddingDimension;
  let tokens = 0;
  const vectorOf = (text: string): number[] => {
    const ids = tokenize(text);
    tokens += ids.length;
    return embed(ids, dimension);
  };
  const queryVectors = queries.map(vectorOf);
  const scores = documents.map((document, i) => {
    const query = queryVectors.length === 1 ? queryVectors[0] : queryVectors[i];
    if (query === undefined) throw new SimRequestError(400, 'text_1 and text_2 must have the same length, or text_1 a single item');
    return relevance(query, vectorOf(document));
  });
  return { scores, tokens };
}

export function handleScore(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  const queries = textInputs(json['text_1'] ?? json['queries'], 'text_1');
  const documents = textInputs(json['text_2'] ?? json['documents'], 'text_2');
  const { scores, tokens } = scorePairs(ctx, queries, documents);
  const { id, created } = identity(ctx, inbound, json);
  const data = scores.map((score, index) => ({ index, object: 'score', score }));
  answer(ctx, inbound, model, tokens, JSON.stringify({ id: `score-${id}`, object: 'list', created, model, data, usage: usage(tokens) }));
}

export function handleRerank(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  if (typeof json['query'] !== 'string') throw new SimRequestError(400, 'Field required: query', 'query');
  const documents = textInputs(json['documents'], 'documents');
  const { scores, tokens } = scorePairs(ctx, [json['query']], documents);
  const topN = typeof json['top_n'] === 'number' && json['top_n'] > 0 ? json['top_n'] : documents.length;
  const results = scores
    .map((score, index) => ({ index, document: { text: documents[index] as string }, relevance_score: score }))
    .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index)
    .slice(0, topN);
  const { id } = identity(ctx, inbound, json);
  answer(ctx, inbound, model, tokens, JSON.stringify({ id: `rerank-${id}`, model, usage: { total_tokens: tokens }, results }));
}

export function handleTokenize(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  let tokens: number[];
  if (isChatMessageList(json['messages'])) tokens = chatPromptTokens(json['messages'], json['add_generation_prompt'] !== false);
  else if (typeof json['prompt'] === 'string') tokens = tokenize(json['prompt']);
  else throw new SimRequestError(400, 'Either prompt or messages must be provided.', 'prompt');
  const body = JSON.stringify({ count: tokens.length, max_model_len: ctx.options.maxModelLen, tokens, token_strs: null });
  answer(ctx, inbound, model, tokens.length, body);
}

export function handleDetokenize(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  const tokens = json['tokens'];
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'number')) {
    throw new SimRequestError(400, 'Field required: tokens must be a list of integers', 'tokens');
  }
  let prompt: string;
  try {
    prompt = detokenize(tokens as number[]);
  } catch (error) {
    throw new SimRequestError(400, error instanceof Error ? error.message : String(error), 'tokens');
  }
  answer(ctx, inbound, model, tokens.length, JSON.stringify({ prompt }));
}

/** The value of a multipart text field, found by scanning the raw body (no parser needed). */
function multipartField(body: Buffer, name: string): string | null {
  const marker = Buffer.from(`name="${name}"`);
  const at = body.indexOf(marker);
  if (at < 0) return null;
  const valueStart = body.indexOf('\r\n\r\n', at);
  if (valueStart < 0) return null;
  const valueEnd = body.indexOf('\r\n', valueStart + 4);
  return body.toString('utf8', valueStart + 4, valueEnd < 0 ? body.length : valueEnd);
}

/** Words of a transcript: one per KiB of upload, picked by the byte length, so it is deterministic. */
function transcriptFor(byteLength: number): string {
  const count = Math.max(1, Math.min(200, Math.round(byteLength / 1024)));
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(WORDS[(byteLength + i * 7919) % WORDS.length] as string);
  const text = words.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

export function handleTranscriptions(ctx: EngineContext, inbound: InboundRequest): void {
  const contentType = inbound.req.headers['content-type'] ?? '';
  if (!contentType.startsWith('multipart/form-data')) {
    throw new SimRequestError(400, 'Transcription requests must be multipart/form-data.');
  }
  const modelField = multipartField(inbound.body, 'model');
  const model = resolveModel(ctx.options, modelField === null ? {} : { model: modelField });
  if (inbound.body.indexOf('name="file"') < 0) throw new SimRequestError(400, 'Field required: file', 'file');
  const text = transcriptFor(inbound.body.length);
  answer(ctx, inbound, model, 0, JSON.stringify({ text }));
}
