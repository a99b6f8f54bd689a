import { z } from 'zod';
import { keyPolicySchema } from '../auth/policy.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors/catalogue.js';
import { TOLLBOOTH_VERSION } from '../version.js';

type JsonSchema = Record<string, unknown>;

/** The policy schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without its `$schema` line. */
function policyJsonSchema(io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(keyPolicySchema, { io }) as JsonSchema;
  return schema;
}

/** A closed object schema with more members (allOf cannot add members to a schema without additional properties). */
function withMembers(base: JsonSchema, members: Record<string, JsonSchema>): JsonSchema {
  const { properties, required } = base as { properties: Record<string, JsonSchema>; required?: string[] };
  return { ...base, properties: { ...members, ...properties }, required: [...Object.keys(members), ...(required ?? [])] };
}

/** A merge patch of a policy: every member optional, `null` removes one, the id may only repeat itself. */
function policyPatchSchema(): JsonSchema {
  const policy = policyJsonSchema('input') as { properties: Record<string, JsonSchema> };
  const properties = Object.fromEntries(
    Object.entries(policy.properties).map(([name, schema]) => {
      const { default: _default, ...withoutDefault } = schema;
      return [name, name === 'id' ? withoutDefault : { anyOf: [withoutDefault, { type: 'null' }] }];
    }),
  );
  return { type: 'object', properties, additionalProperties: false };
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
      },
    },
  },
};

function errorResponses(...codes: ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const { status } = ERROR_CATALOGUE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, names]) => [
      String(status),
      { description: names.map((name) => `\`${name}\`: ${ERROR_CATALOGUE[name as ErrorCode].message}`).join(' '), content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  );
}

function json(schemaRef: string, description: string): Record<string, unknown> {
  return { description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaRef}` } } } };
}

const ID_PARAMETER = { name: 'id', in: 'path', required: true, description: 'The id of the key.', schema: { type: 'string' } };
/** Every key route may find the key store unusable or absent. */
const STORE_ERRORS: ErrorCode[] = ['admin_unauthorized', 'key_store_read_only', 'key_store_unavailable'];

/**
 * The admin API as an OpenAPI 3.1 document, served at /api/v1/openapi.json. The key schemas are
 * derived from the zod policy schema the gateway validates with, so the document cannot describe
 * a field the API would refuse or miss one it accepts.
 */
export function adminOpenApiDocument(): Record<string, unknown> {
  const policy = policyJsonSchema('output');
  const key = withMembers(policy, { object: { const: 'api_key' } });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollbooth admin API',
      version: TOLLBOOTH_VERSION,
      description:
        'Served on the admin listener. Key management needs one of the admin tokens (admin.tokens) as a Bearer token; every change is logged with the id of the token. Errors use the OpenAI error envelope.',
    },
    security: [{ adminToken: [] }],
    paths: {
      '/api/v1/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document.',
          security: [],
          responses: { '200': { description: 'The OpenAPI document.', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
      '/api/v1/keys': {
        get: {
          operationId: 'listKeys',
          summary: 'Every key in the store, with its policy (never its secret).',
          responses: { '200': json('KeyList', 'The keys, sorted by id.'), ...errorResponses(...STORE_ERRORS) },
        },
        post: {
          operationId: 'createKey',
          summary: 'Creates a key; the answer holds the secret, shown this once.',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/NewKey' } } } },
          responses: {
            '201': json('CreatedKey', 'The new key and its secret.'),
            ...errorResponses('invalid_request_body', 'invalid_json', 'key_exists', ...STORE_ERRORS),
          },
        },
      },
      '/api/v1/keys/{id}': {
        parameters: [ID_PARAMETER],
        get: {
          operationId: 'getKey',
          summary: 'One key and its policy.',
          responses: { '200': json('Key', 'The key.'), ...errorResponses('key_not_found', ...STORE_ERRORS) },
        },
        patch: {
          operationId: 'updateKey',
          summary: 'Changes a policy by JSON Merge Patch (RFC 7396): members replace, null removes, objects merge.',
          requestBody: {
            required: true,
            content: {
              'application/merge-patch+json': { schema: { $ref: '#/components/schemas/KeyPatch' } },
              'application/json': { schema: { $ref: '#/components/schemas/KeyPatch' } },
            },
          },
          responses: { '200': json('Key', 'The key as changed.'), ...errorResponses('invalid_request_body', 'invalid_json', 'key_not_found', ...STORE_ERRORS) },
        },
        delete: {
          operationId: 'revokeKey',
          summary: 'Revokes a key: every gateway reading the store refuses it from then on.',
          responses: { '200': json('DeletedKey', 'The key is gone.'), ...errorResponses('key_not_found', ...STORE_ERRORS) },
        },
      },
    },
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'One of admin.tokens.' } },
      schemas: {
        NewKey: policyJsonSchema('input'),
        KeyPatch: policyPatchSchema(),
        Key: key,
        KeyList: {
          type: 'object',
          required: ['object', 'data'],
          properties: { object: { const: 'list' }, data: { type: 'array', items: { $ref: '#/components/schemas/Key' } } },
        },
        CreatedKey: withMembers(key, { key: { type: 'string', pattern: '^sk-tb-', description: 'The secret: shown once, stored only as its SHA-256.' } }),
        DeletedKey: {
          type: 'object',
          required: ['object', 'id', 'deleted'],
          properties: { object: { const: 'api_key' }, id: { type: 'string' }, deleted: { const: true } },
        },
        Error: ERROR_SCHEMA,
      },
    },
  };
}
