import { GatewayError } from '../errors/gateway-error.js';

/**
 * A request body as the gateway holds it: the exact bytes the client sent (forwarded unchanged)
 * and, for JSON, the parsed value the routing stages read.
 */
export interface RequestBody {
  readonly raw: Buffer;
  readonly json: unknown;
}

export function parseJsonBody(raw: Buffer): RequestBody {
  if (raw.length === 0) throw new GatewayError('invalid_json', 'The request body is empty; expected a JSON object.');
  try {
    return { raw, json: JSON.parse(raw.toString('utf8')) };
  } catch (error) {
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${(error as Error).message}`, null, { cause: error });
  }
}

export function opaqueBody(raw: Buffer): RequestBody {
  return { raw, json: undefined };
}

/** The fields of a request that decide where it goes and how it is relayed. */
export interface RoutingFields {
  readonly model: string | undefined;
  readonly stream: boolean;
}

/** Reads `model` and `stream` from a JSON object body; a wrong type is the client's error (400). */
export function routingFieldsOfJson(json: unknown): RoutingFields {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GatewayError('invalid_request_body', 'The request body must be a JSON object.');
  }
  const { model, stream } = json as { model?: unknown; stream?: unknown };
  if (model !== undefined && (typeof model !== 'string' || model.length === 0)) {
    throw new GatewayError('invalid_request_body', 'The model parameter must be a non-empty string.', 'model');
  }
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw new GatewayError('invalid_request_body', 'The stream parameter must be a boolean.', 'stream');
  }
  return { model, stream: stream === true };
}

/**
 * Finds a text field of a multipart/form-data body (the `model` of an audio upload) without
 * parsing the files: a scan for the part whose Content-Disposition names the field.
 */
export function multipartField(raw: Buffer, contentType: string, field: string): string | undefined {
  const boundaryMatch = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = boundaryMatch?.[1] ?? boundaryMatch?.[2];
  if (boundary === undefined) return undefined;
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const headerEnd = Buffer.from('\r\n\r\n', 'latin1');
  let partStart = raw.indexOf(delimiter);
  while (partStart >= 0) {
    const headersStart = partStart + delimiter.length;
    const valueStart = raw.indexOf(headerEnd, headersStart);
    if (valueStart < 0) return undefined;
    const nextPart = raw.indexOf(delimiter, valueStart);
    if (nextPart < 0) return undefined;
    const partHeaders = raw.toString('latin1', headersStart, valueStart);
    if (new RegExp(`name="${escapeRegExp(field)}"(?:;|\\r|$)`, 'i').test(partHeaders) && !/filename=/i.test(partHeaders)) {
      // The value ends with the CRLF that precedes the next delimiter.
      return raw.toString('utf8', valueStart + headerEnd.length, nextPart - 2);
    }
    partStart = nextPart;
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The request-schema stage: what a request to `endpoint` (undefined for pass-through paths)
 * says about routing, or the 400/415 that explains why it cannot be routed.
 */
export function resolveRoutingFields(
  endpoint: { readonly body: 'json' | 'multipart'; readonly modelRequired: boolean } | undefined,
  body: RequestBody | undefined,
  contentType: string | undefined,
): RoutingFields {
  let fields: RoutingFields;
  if (body !== undefined && body.json !== undefined) {
    fields = routingFieldsOfJson(body.json);
  } else if (body !== undefined && contentType !== undefined && /^multipart\/form-data/i.test(contentType)) {
    fields = { model: multipartField(body.raw, contentType, 'model'), stream: false };
  } else {
    if (endpoint?.body === 'json') {
      throw body === undefined
        ? new GatewayError('invalid_request_body', 'The request body must be a JSON object.')
        : new GatewayError('unsupported_media_type');
    }
    fields = { model: undefined, stream: false };
  }
  if (endpoint?.modelRequired === true && fields.model === undefined) throw new GatewayError('missing_model', undefined, 'model');
  return fields;
}
