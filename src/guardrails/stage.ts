import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';
import type { RequestBody } from '../proxy/request-body.js';
import type { GuardrailAction } from '../lifecycle/observation.js';
import { estimatePromptTokens } from '../lifecycle/token-estimate.js';
import { guardrailsEnabled, type GuardrailsConfig } from './config.js';
import { createPiiMasker, type PiiMasker } from './pii.js';
import { walkPromptTexts } from './prompt-texts.js';

interface DenyRule {
  readonly name: string;
  readonly pattern: RegExp;
  readonly reject: boolean;
}

/**
 * The guardrail stage (a preHandler after the model allow-list, before the rate limits, so a
 * refused request reserves nothing): the prompt-length limit, the deny patterns and the masking
 * of the forwarded request. Undefined when nothing is configured: then no request pays for it.
 * It reads only the JSON the body parser already made; a multipart upload carries no prompt text.
 */
export function createGuardrailStage(config: GuardrailsConfig): ((request: FastifyRequest) => void) | undefined {
  if (!guardrailsEnabled(config)) return undefined;
  const denyRules: DenyRule[] = config.denyPatterns.map(({ name, pattern, action }) => ({ name, pattern: new RegExp(pattern, 'iu'), reject: action === 'reject' }));
  const masker = config.pii.maskRequests && config.pii.kinds.length > 0 ? createPiiMasker(config.pii.kinds, config.pii.nationalIdPatterns) : undefined;
  const limitFor = (model: string | undefined): number | undefined => {
    const byModel = model === undefined ? undefined : config.maxPromptTokensByModel[model];
    if (byModel === undefined) return config.maxPromptTokens;
    return config.maxPromptTokens === undefined ? byModel : Math.min(byModel, config.maxPromptTokens);
  };

  return (request) => {
    const body = request.inference.body;
    if (body?.json === undefined) return;
    const actions: GuardrailAction[] = [];
    const record = (action: GuardrailAction): void => {
      actions.push(action);
      request.observation.guardrails = actions;
    };

    const limit = limitFor(request.inference.fields.model);
    if (limit !== undefined) {
      const estimate = estimatePromptTokens(body.json);
      if (estimate > limit) {
        record({ rule: 'max_prompt_tokens', action: 'rejected' });
        throw new GatewayError('prompt_too_long', `The prompt is about ${estimate} tokens; this gateway accepts at most ${limit} for this model.`, 'messages');
      }
    }

    if (denyRules.length > 0) {
      const matched = new Set<DenyRule>();
      const complete = walkPromptTexts(body.json, (text) => {
        for (const rule of denyRules) if (!matched.has(rule) && rule.pattern.test(text)) matched.add(rule);
        return undefined;
      });
      if (!complete) {
        record({ rule: 'deny_patterns', action: 'rejected' });
        throw new GatewayError('prompt_rejected', 'The prompt has too many parts to be checked.', 'messages');
      }
      for (const rule of matched) {
        if (rule.reject) {
          record({ rule: rule.name, action: 'rejected' });
          throw new GatewayError('prompt_rejected', `The prompt was refused by the gateway's "${rule.name}" rule.`, 'messages');
        }
        record({ rule: rule.name, action: 'flagged' });
      }
    }

    if (masker !== undefined) {
      const masked = maskedBody(body, masker);
      if (masked !== undefined) {
        request.inference = { ...request.inference, body: masked };
        request.observation.requestJson = masked.json;
        record({ rule: 'pii', action: 'masked' });
      }
    }
  };
}

/** The body with its prompt text masked, re-serialised; undefined when there was nothing to mask. */
function maskedBody(body: RequestBody, masker: PiiMasker): RequestBody | undefined {
  // A copy the walk may write into: the parsed original stays as the client sent it.
  const json: unknown = JSON.parse(body.raw.toString('utf8'));
  let total = 0;
  const complete = walkPromptTexts(json, (text) => {
    const { text: replaced, masked } = masker.mask(text);
    total += masked;
    return masked > 0 ? replaced : undefined;
  });
  if (!complete) throw new GatewayError('prompt_rejected', 'The prompt has too many parts to be checked.', 'messages');
  return total === 0 ? undefined : { raw: Buffer.from(JSON.stringify(json)), json };
}
