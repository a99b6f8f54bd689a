import { chatPromptTokens, isChatMessageList, messageText, type ChatMessageInput } from './chat-template.js';
import type { EngineContext } from './engine-context.js';
import { SimRequestError } from './errors.js';
import { requestFaults, respondWithFault } from './fault-responses.js';
import { GenerationRun, type ChoicePlan, type GenerationSpec } from './generation.js';
import type { InboundRequest } from './inbound.js';
import {
  checkMaxTokens,
  checkPromptLength,
  headerNumber,
  optionalBool,
  optionalInt,
  resolveModel,
  streamOptions,
  type JsonObject,
} from './request-fields.js';
import { createdAt, randomHexId, requestRandomness, type RequestRandomness } from './request-seed.js';
import { chatCompletionBody, completionTokenTotal, responsesBody, textCompletionBody, type BodyHeader } from './response-bodies.js';
import { inboundTraceHeaders, spanSamplingParams } from './request-span.js';
import { generateTokenIds } from './text-generator.js';
import { tokenize } from './tokenizer.js';

/** What differs between chat, completions and responses once their prompts are tokenized. */
interface GenerationRequest {
  kind: GenerationSpec['kind'];
  model: string;
  stream: boolean;
  prompts: number[][];
  /** Choices generated per prompt (`n`). */
  n: number;
  /** Output cap from max_tokens & co, or the rest of the context window. */
  maxTokens: number;
  ignoreEos: boolean;
  includeUsage: boolean;
  continuousUsage: boolean;
  idPrefix: string;
  /** vLLM builds chat and completion ids from the inbound X-Request-Id; responses do not. */
  idFromRequestHeader: boolean;
  render: (header: BodyHeader, choices: ChoicePlan[], promptTokens: number, cachedTokens: number | null) => string;
}

function planChoices(ctx: EngineContext, inbound: InboundRequest, request: GenerationRequest, randomness: RequestRandomness): ChoicePlan[] {
  const forced = headerNumber(inbound.req, 'x-sim-tokens');
  const { min, max } = ctx.options.outputTokens;
  const choices: ChoicePlan[] = [];
  for (let p = 0; p < request.prompts.length; p++) {
    const room = ctx.options.maxModelLen - (request.prompts[p] as number[]).length;
    const cap = Math.min(request.maxTokens, room);
    for (let i = 0; i < request.n; i++) {
      const wanted = forced !== null ? Math.floor(forced) : request.ignoreEos ? cap : randomness.prng.int(min, max);
      const count = Math.min(wanted, cap);
      // Hitting the cap is `length` even when the draw happened to equal it, as in vLLM.
      const finishReason = wanted >= cap ? 'length' : 'stop';
      choices.push({ index: choices.length, tokens: generateTokenIds(randomness.prng, count, finishReason === 'stop'), finishReason });
    }
  }
  return choices;
}

function responseId(request: GenerationRequest, inbound: InboundRequest, randomness: RequestRandomness): string {
  if (request.idFromRequestHeader && inbound.inboundRequestId !== undefined) return request.idPrefix + inbound.inboundRequestId;
  return request.idPrefix + randomHexId(randomness);
}

function startGeneration(ctx: EngineContext, inbound: InboundRequest, request: GenerationRequest): void {
  const json = inbound.json();
  const randomness = requestRandomness(ctx.options.seed, json);
  const fault = requestFaults(ctx, inbound, randomness.prng);
  const truth = inbound.truth;
  truth.model = request.model;
  truth.stream = request.stream;
  truth.fault = fault.label;
  let promptTokens = 0;
  for (const prompt of request.prompts) promptTokens += prompt.length;
  // vLLM counts a chat prompt once however many choices share it.
  truth.promptTokens = promptTokens;
  if (fault.errorStatus !== null) {
    respondWithFault(ctx, inbound, fault.errorStatus);
    return;
  }
  const choices = planChoices(ctx, inbound, request, randomness);
  const header: BodyHeader = { id: responseId(request, inbound, randomness), created: createdAt(randomness), model: request.model };
  const itlOverride = headerNumber(inbound.req, 'x-sim-itl-ms');
  const spec: GenerationSpec = {
    kind: request.kind,
    truth,
    requestId: inbound.requestId,
    model: request.model,
    stream: request.stream,
    responseId: header.id,
    created: header.created,
    prompts: request.prompts,
    promptTokens,
    choices,
    includeUsage: request.includeUsage,
    continuousUsage: request.continuousUsage,
    ttftOverrideMs: headerNumber(inbound.req, 'x-sim-ttft-ms'),
    itlMs: itlOverride ?? ctx.options.interTokenMs,
    fault,
    prng: randomness.prng,
    renderBody: (cachedTokens) =>
      request.render(header, choices, promptTokens, ctx.options.reportCachedTokens ? cachedTokens : null),
    // Read only when spans are exported: no cost per request otherwise.
    trace:
      ctx.requestSpans === null
        ? null
        : { parent: inboundTraceHeaders(inbound.req.headers), sampling: spanSamplingParams(json, request.maxTokens, request.n) },
  };
  new GenerationRun(ctx, inbound.res, spec).start();
}

function outputCap(ctx: EngineContext, json: JsonObject, fields: readonly string[], promptTokens: number, fallback: number | null): number {
  for (const field of fields) {
    const value = optionalInt(json, field, field === 'max_tokens' && fallback !== null ? 0 : 1);
    if (value !== null) {
      checkMaxTokens(ctx.options, promptTokens, value, field);
      return value;
    }
  }
  return fallback ?? ctx.options.maxModelLen - promptTokens;
}

export function handleChatCompletions(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  const messages = json['messages'];
  if (!isChatMessageList(messages) || messages.length === 0) {
    throw new SimRequestError(400, 'Field required: messages must be a non-empty list of messages', 'messages');
  }
  const prompt = chatPromptTokens(messages, json['add_generation_prompt'] !== false);
  checkPromptLength(ctx.options, prompt.length);
  const stream = optionalBool(json, 'stream');
  startGeneration(ctx, inbound, {
    kind: 'chat',
    model,
    stream,
    prompts: [prompt],
    n: choiceCount(ctx, json),
    maxTokens: outputCap(ctx, json, ['max_completion_tokens', 'max_tokens'], prompt.length, null),
    ignoreEos: optionalBool(json, 'ignore_eos'),
    ...streamOptions(json, stream),
    idPrefix: 'chatcmpl-',
    idFromRequestHeader: true,
    render: (header, choices, promptTokens, cachedTokens) =>
      chatCompletionBody(header, choices, { promptTokens, completionTokens: completionTokenTotal(choices), cachedTokens }),
  });
}

/** `prompt` as string, list of strings, list of token ids, or list of token-id lists. */
function completionPrompts(raw: unknown): number[][] {
  const isIds = (value: unknown): value is number[] => Array.isArray(value) && value.length > 0 && value.every((v) => Number.isInteger(v));
  if (typeof raw === 'string' && raw !== '') return [tokenize(raw)];
  if (isIds(raw)) return [raw];
  if (Array.isArray(raw) && raw.length > 0) {
    if (raw.every((p) => typeof p === 'string')) return raw.map((p) => tokenize(p as string));
    if (raw.every(isIds)) return raw;
  }
  throw new SimRequestError(400, 'Either prompt or prompt_embeds must be provided and non-empty.', 'prompt');
}

/**
 * `n`, bounded by the simulated engine's max_num_seqs (`maxRunning`). vLLM accepts any n and
 * allocates a sequence for each; the simulator refuses more than it could ever run at once with
 * vLLM's validation error shape, so a client's `"n": 2147483647` cannot exhaust the memory of
 * the process hosting it (the in-process simulators of tests and demos).
 */
function choiceCount(ctx: EngineContext, json: JsonObject): number {
  const n = optionalInt(json, 'n', 1) ?? 1;
  if (n > ctx.options.maxRunning) throw new SimRequestError(400, `\`n\` must be at most ${ctx.options.maxRunning} (max_num_seqs), got ${n}.`, 'n');
  return n;
}

/** vLLM's CompletionRequest defaults max_tokens to 16. */
const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export function handleCompletions(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  const prompts = completionPrompts(json['prompt']);
  let longest = 0;
  for (const prompt of prompts) longest = Math.max(longest, prompt.length);
  checkPromptLength(ctx.options, longest);
  const stream = optionalBool(json, 'stream');
  startGeneration(ctx, inbound, {
    kind: 'completion',
    model,
    stream,
    prompts,
    n: choiceCount(ctx, json),
    maxTokens: outputCap(ctx, json, ['max_tokens'], longest, COMPLETION_DEFAULT_MAX_TOKENS),
    ignoreEos: optionalBool(json, 'ignore_eos'),
    ...streamOptions(json, stream),
    idPrefix: 'cmpl-',
    idFromRequestHeader: true,
    render: (header, choices, promptTokens, cachedTokens) =>
      textCompletionBody(header, choices, { promptTokens, completionTokens: completionTokenTotal(choices), cachedTokens }),
  });
}

/** Responses `input`: a string, or a list of messages whose content is a string or input parts. */
function responsesMessages(input: unknown, instructions: string | null): ChatMessageInput[] {
  const messages: ChatMessageInput[] = instructions === null ? [] : [{ role: 'system', content: instructions }];
  if (typeof input === 'string' && input !== '') return [...messages, { role: 'user', content: input }];
  if (isChatMessageList(input) && input.length > 0) {
    return [...messages, ...input.map((m) => ({ role: m.role, content: messageText(m.content) }))];
  }
  throw new SimRequestError(400, 'Field required: input', 'input');
}

export function handleResponses(ctx: EngineContext, inbound: InboundRequest): void {
  const json = inbound.json();
  const model = resolveModel(ctx.options, json);
  if (optionalBool(json, 'stream')) {
    throw new SimRequestError(400, 'The simulator supports only non-streaming /v1/responses requests.', 'stream');
  }
  const instructions = typeof json['instructions'] === 'string' ? json['instructions'] : null;
  const prompt = chatPromptTokens(responsesMessages(json['input'], instructions));
  checkPromptLength(ctx.options, prompt.length);
  const maxOutputTokens = optionalInt(json, 'max_output_tokens', 1);
  startGeneration(ctx, inbound, {
    kind: 'responses',
    model,
    stream: false,
    prompts: [prompt],
    n: 1,
    maxTokens: outputCap(ctx, json, ['max_output_tokens'], prompt.length, null),
    ignoreEos: false,
    includeUsage: false,
    continuousUsage: false,
    idPrefix: 'resp_',
    idFromRequestHeader: false,
    render: (header, choices, promptTokens, cachedTokens) =>
      responsesBody(
        header,
        choices[0] as ChoicePlan,
        { promptTokens, completionTokens: completionTokenTotal(choices), cachedTokens },
        { instructions, maxOutputTokens },
      ),
  });
}
