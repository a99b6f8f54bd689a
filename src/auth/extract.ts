/**
 * Where a client may present its API key: `Authorization: Bearer <key>` (what the OpenAI SDKs
 * send), `x-api-key` (Anthropic-style clients) and `api-key` (Azure OpenAI-style clients).
 */
export type KeyHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Characters a key may contain: visible ASCII, no spaces. Anything else is a malformed header. */
const KEY_TOKEN = /^[\x21-\x7e]{1,512}$/;
/** The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces separate it from the key. */
const BEARER = /^bearer +([^ ]+) *$/i;

/**
 * The key presented by a request, or undefined when there is none. A malformed header (another
 * scheme, a repeated header, control characters, an absurd length) counts as no key, so the caller
 * answers it exactly like a missing one. Authorization wins over the other two when several are sent.
 */
export function extractPresentedKey(headers: KeyHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    if (typeof authorization !== 'string') return undefined;
    const match = BEARER.exec(authorization);
    return match === null ? undefined : wellFormed(match[1]);
  }
  const apiKey = headers['x-api-key'] ?? headers['api-key'];
  if (apiKey === undefined) return undefined;
  return typeof apiKey === 'string' ? wellFormed(apiKey.trim()) : undefined;
}

function wellFormed(candidate: string | undefined): string | undefined {
  return candidate !== undefined && KEY_TOKEN.test(candidate) ? candidate : undefined;
}
