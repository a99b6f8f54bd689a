/**
 * CPU per request of the guardrail stage (not part of the tests), on chat bodies of a few sizes:
 * each check alone and all of them, the stage called as the gateway calls it (after the body was
 * parsed, with the request's observation). Off, the stage is not installed, so it costs nothing.
 * Run after `npm run build`: `node dist/test/bench/guardrail-cost.js`.
 */
import type { FastifyRequest } from 'fastify';
import { guardrailsConfigSchema, type GuardrailsConfig } from '../../src/guardrails/config.js';
import { createGuardrailStage } from '../../src/guardrails/stage.js';
import { parseJsonBody } from '../../src/proxy/request-body.js';
import { createObservation } from '../../src/lifecycle/observation.js';

const REQUESTS = 20_000;

const SETTINGS: Record<string, unknown> = {
  'prompt length': { maxPromptTokens: 1_000_000 },
  '3 deny patterns (flag)': {
    denyPatterns: [
      { name: 'ignore_instructions', pattern: 'ignore (all )?previous instructions', action: 'flag' },
      { name: 'system_prompt', pattern: 'reveal (your|the) system prompt', action: 'flag' },
      { name: 'jailbreak', pattern: '\\bDAN\\b|do anything now', action: 'flag' },
    ],
  },
  'PII masking of the request': { pii: { kinds: ['email', 'phone', 'card', 'national_id'], maskRequests: true } },
};
SETTINGS['all of them'] = Object.assign({}, ...Object.values(SETTINGS));

/** A conversation of `turns` messages of ordinary text, with one email address in the last one. */
function chatBody(turns: number): Buffer {
  const sentence = 'The gateway forwards each request to the replica that holds the conversation in its cache. ';
  const messages = Array.from({ length: turns }, (_, index) => ({ role: index % 2 === 0 ? 'user' : 'assistant', content: sentence.repeat(4) }));
  messages[messages.length - 1]!.content += 'Write to ops@example.com about it.';
  return Buffer.from(JSON.stringify({ model: 'llama-3-8b', stream: true, max_tokens: 256, messages }));
}

function requestOf(raw: Buffer): FastifyRequest {
  const body = parseJsonBody(raw);
  return {
    inference: { endpoint: undefined, body, fields: { model: 'llama-3-8b', stream: true } },
    observation: createObservation('bench', 'POST', '/v1/chat/completions', 0),
  } as unknown as FastifyRequest;
}

for (const turns of [1, 8, 32]) {
  const raw = chatBody(turns);
  for (const [name, input] of Object.entries(SETTINGS)) {
    const stage = createGuardrailStage(guardrailsConfigSchema.parse(input) as GuardrailsConfig);
    if (stage === undefined) throw new Error(`${name}: the stage should be on`);
    for (const request of Array.from({ length: 2_000 }, () => requestOf(raw))) stage(request);
    const samples: number[] = [];
    for (let round = 0; round < 3; round++) {
      const fresh = Array.from({ length: REQUESTS }, () => requestOf(raw));
      const before = process.cpuUsage();
      for (const request of fresh) stage(request);
      const used = process.cpuUsage(before);
      samples.push((used.user + used.system) / REQUESTS);
    }
    samples.sort((a, b) => a - b);
    console.log(`${String(turns).padStart(2)} messages (${String(raw.length).padStart(5)} bytes)  ${name.padEnd(28)} ${samples[1]!.toFixed(2)} µs CPU per request (median of 3)`);
  }
}
