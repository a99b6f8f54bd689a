import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { runCli } from '../../helpers/cli.js';
import { teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

const MODEL = 'test-model';
const OPS_TOKEN = 'ops-token-0123456789abcdefghijklmnopqrstuv';
const ADMIN_TOKENS = [{ id: 'ops', token: OPS_TOKEN }];
const teardown = teardownAfterEach();
let redis: RedisServer;
let simulator: RunningSimulator;

beforeAll(async () => {
  redis = await startRedisServer();
  simulator = await startSimulator({ seed: 5, models: [MODEL], outputTokens: { min: 3, max: 3 }, prefillBaseMs: 0, interTokenMs: 0 });
});
afterAll(async () => {
  await simulator?.close();
  await redis?.stop();
});

async function gateway(overrides: Partial<TollboothConfigInput>): Promise<TestGateway> {
  const started = await startTestGateway({
    replicas: [{ name: 'sim', url: simulator.url, models: [MODEL] }],
    admin: { tokens: ADMIN_TOKENS },
    ...overrides,
  });
  teardown.defer(() => started.close());
  return started;
}

/** Two gateways sharing one Redis key store and rate-limit store, as two instances behind a load balancer. */
async function redisPair(): Promise<[TestGateway, TestGateway]> {
  const shared: Partial<TollboothConfigInput> = {
    auth: { enabled: true, store: 'redis' },
    rateLimits: { store: 'redis' },
    redis: { url: redis.url, keyPrefix: `k${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:` },
  };
  return [await gateway(shared), await gateway(shared)];
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

async function call(base: TestGateway, method: string, path: string, options: { body?: unknown; token?: string | null; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? OPS_TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${base.adminUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Completions answered 200, per key secret: what the usage counters must show. */
const served = new Map<string, number>();

async function chatStatus(base: TestGateway, secret: string): Promise<number> {
  const response = await fetch(`${base.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: MODEL, max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.arrayBuffer();
  if (response.status === 200) served.set(secret, (served.get(secret) ?? 0) + 1);
  return response.status;
}

/** Polls until `check` holds; returns the milliseconds it took. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wake) => setTimeout(wake, 20));
  }
}

type OpenApiDocument = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>; components: object };
const METHODS = new Set(['get', 'post', 'patch', 'put', 'delete']);

/** Checks an answer against the response the document promises for that operation and status. */
function conformsToDocument(document: OpenApiDocument, method: string, pathTemplate: string, answer: Answer): void {
  const response = document.paths[pathTemplate]?.[method.toLowerCase()]?.responses[String(answer.status)];
  expect(response, `${method} ${pathTemplate} answered ${answer.status}, which the document does not list`).toBeDefined();
  const schema = response?.content?.['application/json']?.schema;
  expect(schema, `${method} ${pathTemplate} ${answer.status} has no JSON schema`).toBeDefined();
  const validate = new Ajv2020({ strict: false }).compile({ ...schema, components: document.components });
  expect(validate(answer.body), `${method} ${pathTemplate} ${answer.status}: ${JSON.stringify(validate.errors)}`).toBe(true);
}

describe('the admin API', () => {
  it('is described by a valid OpenAPI document, and every operation in it answers as described', async () => {
    const [first, second] = await redisPair();
    const document = (await call(first, 'GET', '/api/v1/openapi.json', { token: null })).body as OpenApiDocument;
    await SwaggerParser.validate(structuredClone(document) as never);
    const exercised = new Set<string>();
    const check = (method: string, pathTemplate: string, answer: Answer): Answer => {
      conformsToDocument(document, method, pathTemplate, answer);
      exercised.add(`${method} ${pathTemplate}`);
      return answer;
    };

    check('GET', '/api/v1/openapi.json', { status: 200, headers: new Headers(), body: document });
    expect(check('GET', '/api/v1/keys', await call(first, 'GET', '/api/v1/keys')).body).toEqual({ object: 'list', data: [] });

    // Create: the secret once, the policy with its defaults, and a key that works on both instances.
    const created = check('POST', '/api/v1/keys', await call(first, 'POST', '/api/v1/keys', { body: { id: 'team-a', tenant: 'acme', limits: { requestsPerMinute: 600 }, budget: { daily: 5 } } }));
    expect(created.status).toBe(201);
    const { key: secret, ...shown } = created.body as { key: string };
    expect(shown).toEqual({ object: 'api_key', id: 'team-a', tenant: 'acme', models: ['*'], limits: { requestsPerMinute: 600 }, budget: { daily: 5 } });
    expect(JSON.stringify(shown)).not.toContain(hashApiKey(secret));
    await until(async () => (await chatStatus(first, secret)) === 200 && (await chatStatus(second, secret)) === 200, 5_000, 'the new key on both instances');
    expect(check('GET', '/api/v1/keys', await call(second, 'GET', '/api/v1/keys')).body).toEqual({ object: 'list', data: [shown] });
    expect(check('GET', '/api/v1/keys/{id}', await call(second, 'GET', '/api/v1/keys/team-a')).body).toEqual(shown);

    // Usage: the requests served by both instances, counted in the shared store (settled after each response ends).
    const usageOfTeamA = async () => (await call(second, 'GET', '/api/v1/usage?group=key')).body as { data: { key_id: string; requests: number }[] };
    await until(async () => (await usageOfTeamA()).data[0]?.requests === served.get(secret), 5_000, 'every served request in the usage counters');
    const usage = check('GET', '/api/v1/usage', await call(first, 'GET', '/api/v1/usage?group=key&period=day'));
    const requests = served.get(secret)!;
    expect(usage.body).toMatchObject({ object: 'usage', source: 'counters', period: 'day', group: 'key', currency: 'USD' });
    expect((usage.body as { data: unknown[] }).data).toEqual([
      { key_id: 'team-a', tenant: 'acme', requests, input_tokens: expect.any(Number), cached_input_tokens: 0, output_tokens: 3 * requests, cost: '0' },
    ]);
    const badDate = check('GET', '/api/v1/usage', await call(first, 'GET', '/api/v1/usage?period=month&date=2026-13'));
    expect((badDate.body as { error: { code: string; param: string } }).error).toMatchObject({ code: 'invalid_usage_query', param: 'date' });
    const noPrometheus = check('GET', '/api/v1/usage', await call(first, 'GET', '/api/v1/usage?source=prometheus&from=0'));
    expect((noPrometheus.body as { error: { code: string } }).error.code).toBe('usage_source_not_configured');

    // Update by merge patch: limits merge, null removes the budget; the other instance enforces the new limit.
    const patched = check(
      'PATCH',
      '/api/v1/keys/{id}',
      await call(first, 'PATCH', '/api/v1/keys/team-a', { body: { limits: { requestsPerMinute: 1, burstRequests: 1 }, budget: null }, contentType: 'application/merge-patch+json' }),
    );
    expect(patched.body).toEqual({ object: 'api_key', id: 'team-a', tenant: 'acme', models: ['*'], limits: { requestsPerMinute: 1, burstRequests: 1 } });
    await until(async () => (await chatStatus(second, secret)) === 429, 5_000, 'the patched limit on the other instance');

    // Revoke: refused by every instance within a second (pub/sub, not the 30 s resync).
    expect(check('DELETE', '/api/v1/keys/{id}', await call(second, 'DELETE', '/api/v1/keys/team-a')).body).toEqual({ object: 'api_key', id: 'team-a', deleted: true });
    const refusedAfterMs = await until(async () => (await chatStatus(first, secret)) === 401 && (await chatStatus(second, secret)) === 401, 5_000, 'the revoked key refused');
    expect(refusedAfterMs).toBeLessThan(1_000);

    const missing = check('GET', '/api/v1/keys/{id}', await call(first, 'GET', '/api/v1/keys/team-a'));
    expect(missing.status).toBe(404);
    expect((missing.body as { error: { code: string } }).error.code).toBe('key_not_found');
    check('PATCH', '/api/v1/keys/{id}', await call(first, 'PATCH', '/api/v1/keys/team-a', { body: { tenant: 'x' } }));
    check('DELETE', '/api/v1/keys/{id}', await call(first, 'DELETE', '/api/v1/keys/team-a'));

    const operations = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).filter((method) => METHODS.has(method)).map((method) => `${method.toUpperCase()} ${path}`));
    expect([...exercised].sort()).toEqual(operations.sort());

    // Every change is logged with the admin token's id, never with a secret.
    const changes = first.logs.filter((line) => line.msg === 'admin API changed a key').concat(second.logs.filter((line) => line.msg === 'admin API changed a key'));
    expect(changes.map((line) => [line.action, line.admin, line.key_id])).toEqual(
      expect.arrayContaining([
        ['key.create', 'ops', 'team-a'],
        ['key.update', 'ops', 'team-a'],
        ['key.revoke', 'ops', 'team-a'],
      ]),
    );
    expect(JSON.stringify([...first.logs, ...second.logs])).not.toContain(secret);
    expect(JSON.stringify([...first.logs, ...second.logs])).not.toContain(OPS_TOKEN);
  });

  it('refuses callers without an admin token, bad policies with every problem named, and taken ids', async () => {
    const [admin] = await redisPair();
    for (const token of [null, 'wrong-token-0123456789abcdefghijklmnop', `${OPS_TOKEN}x`]) {
      const refused = await call(admin, 'GET', '/api/v1/keys', { token });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect((refused.body as { error: { code: string } }).error.code).toBe('admin_unauthorized');
    }
    expect((await call(admin, 'GET', '/api/v1/keys', { token: OPS_TOKEN.toUpperCase().replace('OPS', 'ops') })).status).toBe(401);
    expect((await fetch(`${admin.adminUrl}/api/v1/keys`, { headers: { authorization: `bearer ${OPS_TOKEN}` } })).status).toBe(200);

    const invalid = await call(admin, 'POST', '/api/v1/keys', { body: { id: 'bad id', limits: { requestsPerMinute: -1, colour: 'red' } } });
    expect(invalid.status).toBe(400);
    const error = (invalid.body as { error: { code: string; param: string; message: string } }).error;
    expect(error.code).toBe('invalid_request_body');
    expect(error.param).toBe('id');
    expect(error.message).toMatch(/id: .*limits\.requestsPerMinute: .*colour/);
    expect((await call(admin, 'POST', '/api/v1/keys', { body: '{"id": ' })).status).toBe(400);
    expect((await call(admin, 'POST', '/api/v1/keys', { body: [] })).status).toBe(400);

    expect((await call(admin, 'POST', '/api/v1/keys', { body: { id: 'team-b' } })).status).toBe(201);
    const taken = await call(admin, 'POST', '/api/v1/keys', { body: { id: 'team-b' } });
    expect(taken.status).toBe(409);
    expect((taken.body as { error: { code: string } }).error.code).toBe('key_exists');

    const renamed = await call(admin, 'PATCH', '/api/v1/keys/team-b', { body: { id: 'team-c' } });
    expect(renamed.status).toBe(400);
    expect((renamed.body as { error: { param: string } }).error.param).toBe('id');
    const secretPatch = await call(admin, 'PATCH', '/api/v1/keys/team-b', { body: { hash: hashApiKey(generateApiKey()) } });
    expect(secretPatch.status).toBe(400);
    expect((await call(admin, 'GET', '/api/v1/keys/team-b')).body).toEqual({ object: 'api_key', id: 'team-b', tenant: 'default', models: ['*'], limits: {} });
    // The overload class is part of the policy: set, validated, and removed with null.
    expect((await call(admin, 'PATCH', '/api/v1/keys/team-b', { body: { priority: 'batch' } })).body).toMatchObject({ id: 'team-b', priority: 'batch' });
    const badPriority = await call(admin, 'PATCH', '/api/v1/keys/team-b', { body: { priority: 'urgent' } });
    expect(badPriority.status).toBe(400);
    expect((badPriority.body as { error: { message: string } }).error.message).toMatch(/priority: .*critical/);
    expect((await call(admin, 'PATCH', '/api/v1/keys/team-b', { body: { priority: null } })).body).not.toHaveProperty('priority');
  });

  it('manages a keys file that the gateway and the CLI read, and says so when the keys live in the configuration only', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-admin-keys-')), 'keys.yaml');
    writeFileSync(file, '# keys of the platform team\n');
    const fileGateway = await gateway({ auth: { enabled: true, keysFile: file } });
    const created = await call(fileGateway, 'POST', '/api/v1/keys', { body: { id: 'from-api', models: [MODEL] } });
    expect(created.status).toBe(201);
    const secret = (created.body as { key: string }).key;
    await until(async () => (await chatStatus(fileGateway, secret)) === 200, 5_000, 'the keys file reload');
    expect(readFileSync(file, 'utf8')).toContain('# keys of the platform team');
    const listed = runCli(['keys', 'list', '--file', file, '--json']);
    expect((await listed.exited()).code).toBe(0);
    expect(JSON.parse(listed.stdout())).toEqual([{ id: 'from-api', tenant: 'default', models: [MODEL], limits: {} }]);
    expect((await call(fileGateway, 'DELETE', '/api/v1/keys/from-api')).status).toBe(200);
    await until(async () => (await chatStatus(fileGateway, secret)) === 401, 5_000, 'the keys file reload after the revoke');

    const inline = generateApiKey();
    const configOnly = await gateway({ auth: { enabled: true, keys: [{ id: 'inline', hash: hashApiKey(inline) }] } });
    const readOnly = await call(configOnly, 'POST', '/api/v1/keys', { body: { id: 'x' } });
    expect(readOnly.status).toBe(409);
    expect((readOnly.body as { error: { code: string } }).error.code).toBe('key_store_read_only');
  });

  it('is not served at all without admin tokens', async () => {
    const closed = await gateway({ admin: { tokens: [] }, auth: { enabled: true, store: 'redis' }, redis: { url: redis.url } });
    for (const path of ['/api/v1/keys', '/api/v1/openapi.json']) {
      const answer = await call(closed, 'GET', path);
      expect(answer.status).toBe(404);
      expect((answer.body as { error: { code: string } }).error.code).toBe('unknown_url');
    }
  });
});
