import { describe, expect, it } from 'vitest';

import type { ChoicePlan } from '../../../src/sim/generation.js';
import { createPrng } from '../../../src/sim/prng.js';
import { chatCompletionBody, textCompletionBody, type BodyHeader, type UsageTotals } from '../../../src/sim/response-bodies.js';
import { generateTokenIds, generatedText } from '../../../src/sim/text-generator.js';
import { tokenize } from '../../../src/sim/tokenizer.js';

/*
 * The bodies are concatenated from JSON fragments for speed; these references are the object
 * trees they replaced (vLLM's pydantic field order), stringified. Both must give the same bytes.
 */
function referenceUsage(usage: UsageTotals): object {
  return {
    prompt_tokens: usage.promptTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    completion_tokens: usage.completionTokens,
    prompt_tokens_details: usage.cachedTokens === null ? null : { cached_tokens: usage.cachedTokens },
  };
}

function referenceChat(header: BodyHeader, choices: readonly ChoicePlan[], usage: UsageTotals): string {
  return JSON.stringify({
    id: header.id,
    object: 'chat.completion',
    created: header.created,
    model: header.model,
    choices: choices.map((choice) => ({
      index: choice.index,
      message: {
        role: 'assistant',
        content: generatedText(choice.tokens),
        refusal: null,
        annotations: null,
        audio: null,
        function_call: null,
        tool_calls: [],
        reasoning_content: null,
      },
      logprobs: null,
      finish_reason: choice.finishReason,
      stop_reason: null,
      token_ids: null,
    })),
    service_tier: null,
    system_fingerprint: null,
    usage: referenceUsage(usage),
    prompt_logprobs: null,
    prompt_token_ids: null,
    kv_transfer_params: null,
  });
}

function referenceText(header: BodyHeader, choices: readonly ChoicePlan[], usage: UsageTotals): string {
  return JSON.stringify({
    id: header.id,
    object: 'text_completion',
    created: header.created,
    model: header.model,
    choices: choices.map((choice) => ({
      index: choice.index,
      text: generatedText(choice.tokens),
      logprobs: null,
      finish_reason: choice.finishReason,
      stop_reason: null,
      token_ids: null,
      prompt_logprobs: null,
      prompt_token_ids: null,
    })),
    service_tier: null,
    system_fingerprint: null,
    usage: referenceUsage(usage),
    kv_transfer_params: null,
  });
}

function choicesFor(seed: number, counts: readonly number[]): ChoicePlan[] {
  const prng = createPrng(seed);
  return counts.map((count, index) => {
    const finishReason = index % 2 === 0 ? 'stop' : 'length';
    return { index, tokens: generateTokenIds(prng, count, finishReason === 'stop'), finishReason };
  });
}

describe('non-streaming bodies', () => {
  const headers: BodyHeader[] = [
    { id: 'chatcmpl-0123456789abcdef0123456789abcdef', created: 1_700_000_000, model: 'tollbooth-sim-model' },
    { id: 'cmpl-req "quoted" \\ \u2028 é', created: 1_795_365_584, model: 'org/Model "x"\n' },
  ];
  const usages: UsageTotals[] = [
    { promptTokens: 9, completionTokens: 16, cachedTokens: null },
    { promptTokens: 120, completionTokens: 0, cachedTokens: 96 },
  ];
  const plans = [choicesFor(1, [16]), choicesFor(2, [0]), choicesFor(3, [1, 2, 64]), choicesFor(4, [])];
  // A byte token (outside the vocabulary) takes the JSON.stringify fallback.
  plans.push([{ index: 0, tokens: tokenize('zqx "é" \u2028 tab\t'), finishReason: 'stop' }]);

  it('are byte-identical to stringifying the object tree', () => {
    for (const header of headers) {
      for (const usage of usages) {
        for (const choices of plans) {
          expect(chatCompletionBody(header, choices, usage)).toBe(referenceChat(header, choices, usage));
          expect(textCompletionBody(header, choices, usage)).toBe(referenceText(header, choices, usage));
        }
      }
    }
  });
});
