import type { ChoicePlan } from './generation.js';
import { generatedText, generatedTextJson } from './text-generator.js';

/**
 * Non-streaming bodies in the field order of vLLM's pydantic models, dumped without exclusions
 * (vLLM returns `JSONResponse(content=response.model_dump())`), so unset fields appear as null.
 */

export interface BodyHeader {
  id: string;
  created: number;
  model: string;
}

export interface UsageTotals {
  promptTokens: number;
  completionTokens: number;
  /** null when prompt_tokens_details is not reported. */
  cachedTokens: number | null;
}

export function completionTokenTotal(choices: readonly ChoicePlan[]): number {
  let total = 0;
  for (const choice of choices) total += choice.tokens.length;
  return total;
}

/*
 * Chat and text completion bodies are rendered for every non-streaming request, so they are
 * concatenated from fixed JSON fragments instead of building an object tree for JSON.stringify:
 * the bytes are the same (strings go through JSON.stringify, the generated text through the
 * pre-escaped vocabulary, numbers are integers, whose JSON form is String(n)), at a fraction of
 * the allocation. The field order is vLLM's, as documented above.
 */

/** `"id":…,"object":…,"created":…,"model":…`: the head shared by chat and text completions. */
function headJson(header: BodyHeader, object: string): string {
  return `{"id":${JSON.stringify(header.id)},"object":"${object}","created":${String(header.created)},"model":${JSON.stringify(header.model)}`;
}

function usageJson(usage: UsageTotals): string {
  const details = usage.cachedTokens === null ? 'null' : `{"cached_tokens":${String(usage.cachedTokens)}}`;
  return (
    `{"prompt_tokens":${String(usage.promptTokens)},"total_tokens":${String(usage.promptTokens + usage.completionTokens)},` +
    `"completion_tokens":${String(usage.completionTokens)},"prompt_tokens_details":${details}}`
  );
}

function chatChoiceJson(choice: ChoicePlan): string {
  return (
    `{"index":${String(choice.index)},"message":{"role":"assistant","content":${generatedTextJson(choice.tokens)},` +
    `"refusal":null,"annotations":null,"audio":null,"function_call":null,"tool_calls":[],"reasoning_content":null},` +
    `"logprobs":null,"finish_reason":${JSON.stringify(choice.finishReason)},"stop_reason":null,"token_ids":null}`
  );
}

function textChoiceJson(choice: ChoicePlan): string {
  return (
    `{"index":${String(choice.index)},"text":${generatedTextJson(choice.tokens)},"logprobs":null,` +
    `"finish_reason":${JSON.stringify(choice.finishReason)},"stop_reason":null,"token_ids":null,` +
    `"prompt_logprobs":null,"prompt_token_ids":null}`
  );
}

function choicesJson(choices: readonly ChoicePlan[], render: (choice: ChoicePlan) => string): string {
  let json = '[';
  for (let i = 0; i < choices.length; i++) json += (i === 0 ? '' : ',') + render(choices[i] as ChoicePlan);
  return `${json}]`;
}

export function chatCompletionBody(header: BodyHeader, choices: readonly ChoicePlan[], usage: UsageTotals): string {
  return (
    `${headJson(header, 'chat.completion')},"choices":${choicesJson(choices, chatChoiceJson)},` +
    `"service_tier":null,"system_fingerprint":null,"usage":${usageJson(usage)},` +
    `"prompt_logprobs":null,"prompt_token_ids":null,"kv_transfer_params":null}`
  );
}

export function textCompletionBody(header: BodyHeader, choices: readonly ChoicePlan[], usage: UsageTotals): string {
  return (
    `${headJson(header, 'text_completion')},"choices":${choicesJson(choices, textChoiceJson)},` +
    `"service_tier":null,"system_fingerprint":null,"usage":${usageJson(usage)},"kv_transfer_params":null}`
  );
}

/** A minimal but valid Responses API object (status completed, one output_text message). */
export function responsesBody(
  header: BodyHeader,
  choice: ChoicePlan,
  usage: UsageTotals,
  request: { instructions: string | null; maxOutputTokens: number | null },
): string {
  return JSON.stringify({
    id: header.id,
    created_at: header.created,
    incomplete_details: choice.finishReason === 'length' ? { reason: 'max_output_tokens' } : null,
    instructions: request.instructions,
    metadata: null,
    model: header.model,
    object: 'response',
    output: [
      {
        id: `msg_${header.id.slice('resp_'.length)}`,
        content: [{ annotations: [], text: generatedText(choice.tokens), type: 'output_text', logprobs: null }],
        role: 'assistant',
        status: 'completed',
        type: 'message',
      },
    ],
    parallel_tool_calls: true,
    temperature: 1.0,
    tool_choice: 'auto',
    tools: [],
    top_p: 1.0,
    background: false,
    max_output_tokens: request.maxOutputTokens,
    max_tool_calls: null,
    previous_response_id: null,
    prompt: null,
    reasoning: null,
    service_tier: 'auto',
    status: choice.finishReason === 'length' ? 'incomplete' : 'completed',
    text: null,
    top_logprobs: null,
    truncation: 'disabled',
    usage: {
      input_tokens: usage.promptTokens,
      input_tokens_details: { cached_tokens: usage.cachedTokens ?? 0 },
      output_tokens: usage.completionTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage.promptTokens + usage.completionTokens,
    },
    user: null,
  });
}
