import { errorTypeForStatus, type OpenAiErrorBody } from '../errors/catalogue.js';

/**
 * Normalises a replica's error body to the OpenAI envelope, keeping its message and the status.
 * vLLM has answered errors in three shapes over its versions:
 *   nested   {"error":{"message","type":"BadRequestError","param","code":400}}
 *   legacy   {"object":"error","message","type","param","code":400}
 *   auth     {"error":"Unauthorized"}            (server started with --api-key)
 * and a proxy in front of it may answer plain text or HTML.
 */
export function normaliseUpstreamError(status: number, body: Buffer, truncated: boolean): OpenAiErrorBody {
  const text = body.toString('utf8');
  const parsed = tryParseObject(text);
  const source = parsed === undefined ? undefined : typeof parsed.error === 'object' && parsed.error !== null ? (parsed.error as Record<string, unknown>) : parsed;

  let message: string;
  if (parsed !== undefined && typeof parsed.error === 'string') message = parsed.error;
  else if (source !== undefined && typeof source.message === 'string') message = source.message;
  else message = plainTextMessage(text, truncated, status);

  const param = source !== undefined && typeof source.param === 'string' ? source.param : null;
  return { error: { message, type: errorTypeForStatus(status), param, code: codeFor(status, source, param) } };
}

function codeFor(status: number, source: Record<string, unknown> | undefined, param: string | null): string | null {
  // OpenAI codes are string ids; vLLM puts the integer status there, which says nothing new.
  if (source !== undefined && typeof source.code === 'string' && source.code.length > 0) return source.code;
  if (status === 404 && param === 'model') return 'model_not_found';
  return null;
}

function plainTextMessage(text: string, truncated: boolean, status: number): string {
  const trimmed = text.trim().slice(0, 512);
  if (trimmed.length === 0) return `The replica answered HTTP ${status} with an empty body.`;
  return truncated || text.trim().length > 512 ? `${trimmed}…` : trimmed;
}

function tryParseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
