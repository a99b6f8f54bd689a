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

const USAGE_FIGURES: Record<string, JsonSchema> = {
  requests: { type: 'integer', minimum: 0 },
  input_tokens: { type: 'integer', minimum: 0 },
  cached_input_tokens: { type: 'integer', minimum: 0, description: 'Part of input_tokens served from the prefix cache.' },
  output_tokens: { type: 'integer', minimum: 0 },
  cost: { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$', description: 'Exact decimal, in the currency of the report.' },
};

/** A closed row schema: the usage figures and the row's own members. */
function usageRow(members: Record<string, JsonSchema>): JsonSchema {
  return { type: 'object', required: [...Object.keys(members), ...Object.keys(USAGE_FIGURES)], properties: { ...members, ...USAGE_FIGURES }, additionalProperties: false };
}

function queryParameter(name: string, description: string, schema: JsonSchema): Record<string, unknown> {
  return { name, in: 'query', required: false, description, schema };
}

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
        'Served on the admin listener. Key management and usage need one of the admin tokens (admin.tokens) as a Bearer token, or, with admin.tls.ca, a client certificate signed by that CA (identity: its subject CN); every change is logged with the identity. Errors use the OpenAI error envelope.',
    },
    security: [{ adminToken: [] }, { clientCertificate: [] }],
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
      '/api/v1/usage': {
        get: {
          operationId: 'getUsage',
          summary:
            'Usage and spend per key or tenant in a UTC day or month, from the counters every settlement adds to (Redis: shared by the gateways); or, with source=prometheus, per tenant and model over any range, from the tollbooth_* counters in Prometheus (admin.prometheusUrl).',
          parameters: [
            queryParameter('source', 'counters (default) or prometheus.', { enum: ['counters', 'prometheus'] }),
            queryParameter('period', 'source=counters: day (default) or month (UTC).', { enum: ['day', 'month'] }),
            queryParameter('date', 'source=counters: YYYY-MM-DD for a day, YYYY-MM for a month; default: the current one. Days are kept 62 days after they end, months 400 days.', {
              type: 'string',
              pattern: '^\\d{4}-\\d{2}(-\\d{2})?$',
            }),
            queryParameter('group', 'key (default for counters) or tenant (the only grouping of source=prometheus).', { enum: ['key', 'tenant'] }),
            queryParameter('from', 'source=prometheus, required: the range start, RFC 3339 or Unix seconds.', { type: 'string' }),
            queryParameter('to', 'source=prometheus: the range end (default: now).', { type: 'string' }),
          ],
          responses: {
            '200': json('Usage', 'The usage.'),
            ...errorResponses('invalid_usage_query', 'usage_source_not_configured', 'usage_source_unavailable', 'admin_unauthorized'),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'One of admin.tokens.' },
        clientCertificate: { type: 'mutualTLS', description: 'A client certificate signed by admin.tls.ca; the admin identity is its subject CN.' },
      },
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
        Usage: { oneOf: [{ $ref: '#/components/schemas/CounterUsage' }, { $ref: '#/components/schemas/PrometheusUsage' }] },
        CounterUsage: {
          type: 'object',
          required: ['object', 'source', 'period', 'date', 'starts_at', 'ends_at', 'group', 'currency', 'data'],
          additionalProperties: false,
          properties: {
            object: { const: 'usage' },
            source: { const: 'counters' },
            period: { enum: ['day', 'month'] },
            date: { type: 'string' },
            starts_at: { type: 'string', description: 'RFC 3339, UTC.' },
            ends_at: { type: 'string', description: 'RFC 3339, UTC.' },
            group: { enum: ['key', 'tenant'] },
            currency: { type: 'string' },
            data: {
              type: 'array',
              items: {
                oneOf: [
                  usageRow({ key_id: { type: 'string' }, tenant: { type: 'string', description: "The key's tenant at its latest request in the period." } }),
                  usageRow({ tenant: { type: 'string' }, keys: { type: 'integer', minimum: 1, description: 'Keys of the tenant with usage in the period.' } }),
                ],
              },
            },
          },
        },
        PrometheusUsage: {
          type: 'object',
          required: ['object', 'source', 'from', 'to', 'group', 'currency', 'data'],
          additionalProperties: false,
          properties: {
            object: { const: 'usage' },
            source: { const: 'prometheus' },
            from: { type: 'string', description: 'RFC 3339, UTC.' },
            to: { type: 'string', description: 'RFC 3339, UTC.' },
            group: { const: 'tenant' },
            currency: { type: 'string' },
            data: {
              type: 'array',
              items: usageRow({
                tenant: { type: 'string', description: 'The metrics tenant label: a declared tenant, other, or none (no key).' },
                model: { type: 'string' },
              }),
            },
          },
        },
        Error: ERROR_SCHEMA,
      },
    },
  };
}
