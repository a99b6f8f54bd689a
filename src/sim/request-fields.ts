import type { IncomingMessage } from 'node:http';

import { SimRequestError, modelNotFound } from './errors.js';
import type { SimulatorOptions } from './options.js';

export type JsonObject = Record<string, unknown>;

/** Parses a request body as a JSON object, or throws the 400 vLLM sends for bad JSON. */
export function parseJsonObject(body: Buffer): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new SimRequestError(400, `JSON decode error: ${detail}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SimRequestError(400, 'Input should be a valid dictionary or object to extract fields from');
  }
  return parsed as JsonObject;
}

/**
 * The served model a request names. Like vLLM, an absent `model` means the first served model;
 * an unknown one is a 404.
 */
export function resolveModel(options: SimulatorOptions, json: JsonObject): string {
  const model = json['model'];
  if (model === undefined || model === null || model === '') return options.models[0] as string;
  if (typeof model !== 'string') throw new SimRequestError(400, 'Input should be a valid string', 'model');
  if (!options.models.includes(model)) throw modelNotFound(model);
  return model;
}

/** An optional integer field >= min; throws 400 with vLLM-like wording otherwise. */
export function optionalInt(json: JsonObject, name: string, min: number): number | null {
  const value = json[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new SimRequestError(400, `\`${name}\` must be an integer, got ${JSON.stringify(value)}.`, name);
  }
  if (value < min) throw new SimRequestError(400, `\`${name}\` must be at least ${min}, got ${value}.`, name);
  return value;
}

export function optionalBool(json: JsonObject, name: string): boolean {
  return json[name] === true;
}

/**
 * `stream_options` as vLLM reads it: `Optional[StreamOptions]` with `include_usage: Optional[bool] = True`
 * and `continuous_usage_stats: Optional[bool] = False`, validated by pydantic in lax mode (an
 * absent field takes its default, null is falsy, 0/1 and "yes"/"off"-style strings are bools,
 * anything else is a 400). Continuous usage only takes effect with include_usage. vLLM rejects
 * a truthy `stream_options` without `stream: true`.
 */
export function streamOptions(json: JsonObject, stream: boolean): { includeUsage: boolean; continuousUsage: boolean } {
  const raw = json['stream_options'];
  if (raw === undefined || raw === null) return { includeUsage: false, continuousUsage: false };
  if (!stream && pythonTruthy(raw)) {
    throw new SimRequestError(400, 'Stream options can only be defined when `stream=True`.', 'stream_options');
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SimRequestError(400, 'Input should be a valid dictionary or instance of StreamOptions', 'stream_options');
  }
  const options = raw as JsonObject;
  const includeUsage = laxBool(options, 'include_usage', true);
  const continuousUsage = laxBool(options, 'continuous_usage_stats', false);
  return { includeUsage, continuousUsage: includeUsage && continuousUsage };
}

/** Python's truth value of a JSON value (vLLM's `if data.get("stream_options")`). */
function pythonTruthy(value: unknown): boolean {
  if (typeof value === 'object' && value !== null) return Object.keys(value).length !== 0;
  return value !== false && value !== 0 && value !== '';
}

const TRUE_STRINGS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_STRINGS = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/** A pydantic lax `Optional[bool]` field as a truth value (None is falsy); 400 for what pydantic rejects. */
function laxBool(json: JsonObject, name: string, absent: boolean): boolean {
  const value = json[name];
  if (value === undefined) return absent;
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (TRUE_STRINGS.has(lower)) return true;
    if (FALSE_STRINGS.has(lower)) return false;
  }
  throw new SimRequestError(400, 'Input should be a valid boolean, unable to interpret input', `stream_options.${name}`);
}

/** A non-negative integer request header, e.g. `x-sim-tokens: 12`; null when absent. */
export function headerNumber(req: IncomingMessage, name: string): number | null {
  const raw = req.headers[name];
  if (raw === undefined || Array.isArray(raw) || raw.trim() === '') return null;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new SimRequestError(400, `${name} must be a non-negative number, got '${raw}'`);
  return value;
}

/** 400 for a prompt that alone does not fit the context window (vLLM's wording). */
export function checkPromptLength(options: SimulatorOptions, promptTokens: number): void {
  if (promptTokens > options.maxModelLen) {
    throw new SimRequestError(
      400,
      `This model's maximum context length is ${options.maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
    );
  }
}

/** 400 when prompt + requested output exceeds the context window (vLLM's wording). */
export function checkMaxTokens(options: SimulatorOptions, promptTokens: number, maxTokens: number, field: string): void {
  if (promptTokens + maxTokens > options.maxModelLen) {
    throw new SimRequestError(
      400,
      `'${field}' is too large: ${maxTokens}. This model's maximum context length is ${options.maxModelLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${options.maxModelLen} - ${promptTokens}).`,
      field,
    );
  }
}
