import { describe, expect, it } from 'vitest';
import type { StreamFacts } from '../../../src/streaming/stream-facts.js';
import { measureRequest } from '../../../src/telemetry/measures.js';
import { createObservation, type RequestObservation } from '../../../src/lifecycle/observation.js';
import { estimatePromptTokens } from '../../../src/lifecycle/token-estimate.js';

function facts(overrides: Partial<StreamFacts> = {}): StreamFacts {
  return {
    firstContentAt: 130,
    lastContentAt: 230,
    contentEvents: 11,
    contentCharacters: 44,
    chunkGapsMs: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
    finishReasons: ['stop'],
    usage: { promptTokens: 40, completionTokens: 11, totalTokens: 51, cachedPromptTokens: 16 },
    error: undefined,
    done: true,
    responseId: 'chatcmpl-1',
    responseModel: 'm',
    ...overrides,
  };
}

/** A streamed request: arrived at 100, dispatched at 100.2, first content written at 130.1, last at 230.1, over at 231. */
function streamed(overrides: Partial<RequestObservation> = {}): RequestObservation {
  return Object.assign(createObservation('r', 'POST', '/v1/chat/completions', 100), {
    requestedModel: 'm',
    stream: true,
    replica: 'a',
    dispatchedAt: 100.2,
    upstreamHeadersAt: 101,
    firstContentWrittenAt: 130.1,
    lastContentWrittenAt: 230.1,
    relayDelayMs: 0.3,
    completedAt: 231,
    status: 200,
    streamFacts: facts(),
    ...overrides,
  });
}

describe('measureRequest: the definitions', () => {
  it('times a successful stream from the gateway clock and the usage token count', () => {
    const measures = measureRequest(streamed());
    expect(measures.outcome).toBe('success');
    expect(measures.ttftMs).toBeCloseTo(30.1, 9);
    expect(measures.upstreamTtftMs).toBeCloseTo(29.8, 9);
    // (230.1 − 130.1) / (11 − 1): tokens from usage, not chunks.
    expect(measures.tpotMs).toBeCloseTo(10, 9);
    expect(measures.decodeTokensPerSecond).toBeCloseTo(100, 9);
    expect(measures.endToEndMs).toBe(131);
    expect(measures.overheadMs).toBeCloseTo(0.5, 9);
    expect(measures.chunkGapsMs).toHaveLength(10);
    expect(measures.tokens).toEqual({ input: 40, cachedInput: 16, output: 11, source: 'exact' });
  });

  it('uses usage, not chunk counts, when chunks carry several tokens', () => {
    const measures = measureRequest(streamed({ streamFacts: facts({ contentEvents: 3, usage: { promptTokens: 5, completionTokens: 21, totalTokens: 26, cachedPromptTokens: undefined } }) }));
    expect(measures.tpotMs).toBeCloseTo(5, 9);
  });

  it('keeps failed and abandoned streams out of TTFT, TPOT and gaps, and estimates their tokens', () => {
    const abandoned = measureRequest(
      streamed({ clientDisconnected: true, requestJson: { messages: [{ role: 'user', content: 'x'.repeat(40) }] }, streamFacts: facts({ usage: undefined, contentEvents: 4, contentCharacters: 12 }) }),
    );
    expect(abandoned.outcome).toBe('client_disconnected');
    expect(abandoned.errorType).toBe('client_disconnected');
    expect([abandoned.ttftMs, abandoned.tpotMs, abandoned.upstreamTtftMs]).toEqual([undefined, undefined, undefined]);
    expect(abandoned.chunkGapsMs).toEqual([]);
    expect(abandoned.tokens).toEqual({ input: 10, cachedInput: 0, output: 4, source: 'estimated' });

    const interrupted = measureRequest(streamed({ errorCode: 'upstream_connection_reset', streamFacts: facts({ usage: undefined }) }));
    expect([interrupted.outcome, interrupted.errorType, interrupted.ttftMs]).toEqual(['upstream_failure', 'upstream_connection_reset', undefined]);

    // Cut at the drain deadline: drained, even when the cut closed the socket (a plain body).
    const drained = measureRequest(
      streamed({ drained: true, clientDisconnected: true, errorCode: 'shutting_down', streamFacts: facts({ usage: undefined, contentEvents: 3, contentCharacters: 12 }) }),
    );
    expect([drained.outcome, drained.errorType, drained.ttftMs, drained.tokens.source, drained.tokens.output]).toEqual(['drained', 'drained', undefined, 'estimated', 3]);

    const inBand = measureRequest(streamed({ streamFacts: facts({ error: { message: 'boom', type: 'InternalServerError', code: 500 } }) }));
    expect([inBand.outcome, inBand.errorType, inBand.ttftMs]).toEqual(['upstream_error', 'upstream_in_band', undefined]);
  });

  it('estimates the output of a stream without usage from its text, never below one token per content event', () => {
    const withText = (contentEvents: number, contentCharacters: number) =>
      measureRequest(streamed({ clientDisconnected: true, streamFacts: facts({ usage: undefined, contentEvents, contentCharacters }) })).tokens;
    // Several tokens per event: 8 events carrying 200 characters are 50 tokens, not 8.
    expect(withText(8, 200)).toMatchObject({ output: 50, source: 'estimated' });
    expect(withText(8, 201)).toMatchObject({ output: 51, source: 'estimated' });
    // Short tokens: 10 events of 2 characters are still at least 10 tokens.
    expect(withText(10, 20)).toMatchObject({ output: 10, source: 'estimated' });
  });

  it('classifies rejections and replica errors, which count no tokens', () => {
    const rejected = measureRequest(
      Object.assign(createObservation('r', 'POST', '/v1/chat/completions', 0), { status: 404, errorCode: 'model_not_found' as const, completedAt: 1 }),
    );
    expect([rejected.outcome, rejected.statusClass, rejected.errorType, rejected.overheadMs, rejected.tokens.source]).toEqual([
      'rejected',
      '4xx',
      'model_not_found',
      undefined,
      'none',
    ]);
    const replicaError = measureRequest(streamed({ status: 400, streamFacts: undefined }));
    expect([replicaError.outcome, replicaError.errorType, replicaError.tokens.source]).toEqual(['upstream_error', 'upstream_http_400', 'none']);
  });

  it('reads non-streamed usage from the body', () => {
    const measures = measureRequest(
      streamed({ stream: false, streamFacts: undefined, bodyUsage: { promptTokens: 7, completionTokens: 3, totalTokens: 10, cachedPromptTokens: undefined } }),
    );
    expect(measures.tokens).toEqual({ input: 7, cachedInput: 0, output: 3, source: 'exact' });
    expect(measures.ttftMs).toBeUndefined();
  });
});

describe('estimatePromptTokens', () => {
  it('counts the text of messages, prompts and inputs at four characters a token', () => {
    expect(estimatePromptTokens({ messages: [{ content: 'abcd' }, { content: [{ type: 'text', text: 'abcdefgh' }] }] })).toBe(3);
    expect(estimatePromptTokens({ prompt: ['abcd', 'ab'] })).toBe(2);
    expect(estimatePromptTokens({ prompt: [1, 2, 3] })).toBe(3);
    expect(estimatePromptTokens({ input: 'abcdefghi' })).toBe(3);
    expect(estimatePromptTokens(undefined)).toBe(0);
  });
});
