import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { INFERENCE_ENDPOINTS } from '../../src/proxy/endpoints.js';
import { withStreamUsage } from '../../src/proxy/stream-usage-request.js';
import { requestedCompletionTokens, reservationOf } from '../../src/ratelimit/reservation.js';
import { DEFAULT_SESSION_KEY_SETTINGS, sessionKeyOf } from '../../src/routing/session-key.js';
import { parseJsonBody, resolveRoutingFields, type RequestBody } from '../../src/proxy/request-body.js';
import { estimatePromptTokens } from '../../src/lifecycle/token-estimate.js';
import { bodyText, deepNesting, oddValue, requestBodyText, requestObject, type NestedBody } from './arbitraries.js';
import { checkProperty, failOnEscapedErrors, fuzzTimeout } from './harness.js';
import { topLevelKeys } from './json-keys.js';
import { vllmStreamUsage } from './vllm-stream-options.js';

/**
 * The pure request stages, fed arbitrary bodies: every one either answers or throws the
 * GatewayError that becomes the client's 4xx; token counts are non-negative safe integers.
 */
failOnEscapedErrors();

const ENDPOINTS = [...INFERENCE_ENDPOINTS, undefined];
const OPERATIONS = [...new Set(INFERENCE_ENDPOINTS.map((endpoint) => endpoint.operation)), undefined];

function parsedOrClientError(body: string | NestedBody): RequestBody | undefined {
  try {
    return parseJsonBody(Buffer.from(bodyText(body), 'utf8'));
  } catch (error) {
    expectClientError(error);
    return undefined;
  }
}

function expectClientError(error: unknown): void {
  if (!(error instanceof GatewayError)) throw error;
  expect(error.status).toBeGreaterThanOrEqual(400);
  expect(error.status).toBeLessThan(500);
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A reservation is a whole, finite number of tokens (a client may ask for more than 2^53: it is refused, not mis-added). */
function isReservation(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

describe('request stages over arbitrary bodies', () => {
  it('parses any bytes into a body or a 400, and reads the routing fields or answers 4xx', { timeout: fuzzTimeout(2) }, () => {
    checkProperty(
      'request-body',
      fc.property(requestBodyText, fc.constantFrom(...ENDPOINTS), fc.constantFrom(undefined, 'application/json', 'multipart/form-data; boundary=x', 'text/plain'), (text, endpoint, contentType) => {
        const body = parsedOrClientError(text);
        try {
          const fields = resolveRoutingFields(endpoint, body, contentType);
          expect(fields.model === undefined || (typeof fields.model === 'string' && fields.model.length > 0)).toBe(true);
          expect(typeof fields.stream).toBe('boolean');
        } catch (error) {
          expectClientError(error);
        }
      }),
    );
  });

  it('estimates prompt tokens of any body, however deep, as a non-negative safe integer', { timeout: fuzzTimeout(5) }, () => {
    checkProperty(
      'token-estimate',
      fc.property(fc.oneof({ weight: 4, arbitrary: requestBodyText }, { weight: 1, arbitrary: deepNesting }), (text) => {
        const body = parsedOrClientError(text);
        expect(isCount(estimatePromptTokens(body?.json))).toBe(true);
      }),
    );
  });

  it('reserves a finite non-negative integer of tokens for any body and operation', { timeout: fuzzTimeout(5) }, () => {
    checkProperty(
      'reservation',
      fc.property(fc.oneof({ weight: 4, arbitrary: requestBodyText }, { weight: 1, arbitrary: deepNesting }), fc.constantFrom(...OPERATIONS), fc.integer({ min: 0, max: 100_000 }), (text, operation, defaultMaxTokens) => {
        const json = parsedOrClientError(text)?.json;
        const requested = requestedCompletionTokens(json, operation);
        expect(requested === undefined || isReservation(requested), String(requested)).toBe(true);
        const reserved = reservationOf(json, operation, { defaultMaxTokens });
        expect(isReservation(reserved), String(reserved)).toBe(true);
      }),
    );
  });

  it('derives a session key from any headers and body, or none', { timeout: fuzzTimeout(5) }, () => {
    const headerValue = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 40 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }));
    const settings = fc.record({
      header: fc.constantFrom('x-session-id', null),
      bodyFields: fc.subarray(['prompt_cache_key', 'user'] as const),
      prefixCharacters: fc.oneof(fc.constant(DEFAULT_SESSION_KEY_SETTINGS.prefixCharacters), fc.integer({ min: 0, max: 5_000 })),
    });
    checkProperty(
      'session-key',
      fc.property(fc.oneof({ weight: 4, arbitrary: requestBodyText }, { weight: 1, arbitrary: deepNesting }), headerValue, fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), settings, (text, sessionHeader, principal, chosen) => {
        const json = parsedOrClientError(text)?.json;
        const key = sessionKeyOf({ 'x-session-id': sessionHeader }, json, principal, chosen);
        if (key === undefined) return;
        expect(Number.isInteger(key.hash) && key.hash >= 0 && key.hash <= 0xffff_ffff).toBe(true);
        expect(['header', 'prompt_cache_key', 'user', 'prefix']).toContain(key.source);
      }),
    );
  });

  it('asks the replica for usage unambiguously whenever vLLM accepts the client\'s stream_options, and changes nothing else', { timeout: fuzzTimeout(2) }, () => {
    // The client's stream_options: absent, any value, or sent twice (the last one wins at the replica).
    const streamOptions = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        null,
        false,
        {},
        { include_usage: false },
        { include_usage: null },
        { include_usage: true },
        { include_usage: 'no' },
        { include_usage: 1 },
        { include_usage: 'maybe' },
        { continuous_usage_stats: true },
        { continuous_usage_stats: true, include_usage: false },
      ),
      oddValue,
    );
    const body = fc.tuple(requestObject, streamOptions, fc.option(streamOptions, { nil: undefined }), fc.boolean()).map(([object, first, duplicate, firstKey]) => {
      const rest = JSON.stringify({ ...object, stream: true, stream_options: undefined }).slice(1, -1);
      const members = [rest];
      if (first !== undefined) members[firstKey ? 'unshift' : 'push'](`"stream_options":${JSON.stringify(first)}`);
      if (duplicate !== undefined) members.push(`"stream_options":${JSON.stringify(duplicate)}`);
      return `{${members.filter((member) => member !== '').join(',')}}`;
    });
    checkProperty(
      'stream-usage-request',
      fc.property(body, (text) => {
        const raw = Buffer.from(text, 'utf8');
        const client = JSON.parse(text) as Record<string, unknown>;
        const rewritten = withStreamUsage(raw, client);
        const sent = rewritten ?? raw;
        const sentText = sent.toString('utf8');
        const replica = JSON.parse(sentText) as Record<string, unknown>;
        const asked = vllmStreamUsage(client.stream_options);
        if (!asked.valid) {
          // vLLM answers 400 to this stream_options: the client must get that answer, so the replica must still see an invalid value.
          expect(vllmStreamUsage(replica.stream_options).valid, sentText).toBe(false);
        } else if (rewritten === undefined) {
          // Sent as the client wrote it: only right when the client's own stream_options already gets usage.
          expect(asked.includeUsage, sentText).toBe(true);
        } else {
          // Rewritten: exactly one stream_options key, so no parser can pick the client's over the gateway's; and it asks for usage.
          expect(topLevelKeys(sentText)?.filter((key) => key === 'stream_options').length, sentText).toBe(1);
          expect(vllmStreamUsage(replica.stream_options), sentText).toMatchObject({ valid: true, includeUsage: true });
        }
        // Everything else reaches the replica as the client sent it.
        const { stream_options: _clientOptions, ...clientRest } = client;
        const { stream_options: _replicaOptions, ...replicaRest } = replica;
        expect(replicaRest).toEqual(clientRest);
      }),
    );
  });

  it('leaves bodies that are not streams unchanged', { timeout: fuzzTimeout(2) }, () => {
    checkProperty(
      'stream-usage-request-non-stream',
      fc.property(requestBodyText, (text) => {
        const body = parsedOrClientError(text);
        if (body === undefined) return;
        const json = body.json as { stream?: unknown } | null;
        const rewritten = withStreamUsage(body.raw, body.json);
        if (typeof json !== 'object' || json === null || Array.isArray(json) || json.stream !== true) expect(rewritten).toBeUndefined();
      }),
    );
  });
});
