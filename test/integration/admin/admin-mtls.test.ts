import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { createCertificateAuthority, type CertificateAuthority } from '../../helpers/certificates.js';
import { teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';

/**
 * The admin listener over real TLS sockets with certificates made by openssl at test time: a
 * client certificate from the configured CA is an admin identity (its CN, in the log), a client
 * without one, or with one from another CA, is refused at the handshake when certificates are
 * required, and falls back to the bearer token when they are not.
 */

const MODEL = 'test-model';
const OPS_TOKEN = 'ops-token-0123456789abcdefghijklmnopqrstuv';
const teardown = teardownAfterEach();
let simulator: RunningSimulator;
let trusted: CertificateAuthority;
let foreign: CertificateAuthority;
let server: { cert: string; key: string };

beforeAll(async () => {
  simulator = await startSimulator({ seed: 9, models: [MODEL], outputTokens: { min: 2, max: 2 }, prefillBaseMs: 0, interTokenMs: 0 });
  trusted = createCertificateAuthority('admin-ca');
  foreign = createCertificateAuthority('other-ca');
  server = trusted.server('admin-listener');
});
afterAll(async () => {
  await simulator?.close();
});

/** A gateway whose keys live in a keys file (the admin API can change them), with an audit log beside it. */
async function gateway(admin: TollboothConfigInput['admin']): Promise<TestGateway & { auditFile: string }> {
  const directory = mkdtempSync(join(tmpdir(), 'tollbooth-mtls-'));
  const keysFile = join(directory, 'keys.yaml');
  writeFileSync(keysFile, '');
  const auditFile = join(directory, 'audit.log');
  const started = await startTestGateway({
    replicas: [{ name: 'sim', url: simulator.url, models: [MODEL] }],
    auth: { enabled: true, keysFile },
    logging: { audit: { file: auditFile } },
    admin,
  });
  teardown.defer(() => started.close());
  return { ...started, auditFile };
}

interface Client {
  readonly cert?: string;
  readonly key?: string;
  readonly token?: string;
}

/** One request over a fresh TLS connection that trusts the admin CA, with the client's certificate and token if any. */
async function call(base: TestGateway, path: string, client: Client, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: unknown }> {
  const dispatcher = new Agent({
    connect: {
      ca: readFileSync(trusted.cert),
      ...(client.cert === undefined ? {} : { cert: readFileSync(client.cert), key: readFileSync(client.key!) }),
    },
  });
  try {
    const headers: Record<string, string> = {};
    if (client.token !== undefined) headers.authorization = `Bearer ${client.token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base.adminUrl}${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), dispatcher });
    const text = await response.text();
    const json = response.headers.get('content-type')?.startsWith('application/json') === true;
    return { status: response.status, body: json ? JSON.parse(text) : text };
  } finally {
    await dispatcher.destroy();
  }
}

describe('mutual TLS on the admin listener', () => {
  it('with client certificates required: the certificate is the admin identity, and clients without one from the CA are refused', async () => {
    const admin = await gateway({ tls: { cert: server.cert, key: server.key, ca: trusted.cert, requireClientCertificate: true } });
    expect(admin.adminUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const alice = trusted.client('ops-alice');

    expect(await call(admin, '/api/v1/keys', alice)).toEqual({ status: 200, body: { object: 'list', data: [] } });
    const created = await call(admin, '/api/v1/keys', alice, { method: 'POST', body: { id: 'team-a', tenant: 'acme' } });
    expect(created.status).toBe(201);
    const usage = await call(admin, '/api/v1/usage?group=tenant', alice);
    expect(usage).toMatchObject({ status: 200, body: { object: 'usage', group: 'tenant', data: [] } });
    expect((await call(admin, '/metrics', alice)).status).toBe(200);
    const changes = admin.logs.filter((line) => line.msg === 'admin API changed a key');
    expect(changes.map((line) => [line.action, line.admin, line.key_id])).toEqual([['key.create', 'ops-alice', 'team-a']]);

    // Refused at the handshake: no certificate (with or without a token), or one from another CA; every route.
    for (const client of [{}, { token: OPS_TOKEN }, foreign.client('ops-alice')]) {
      for (const path of ['/api/v1/keys', '/metrics']) await expect(call(admin, path, client)).rejects.toThrow();
    }

    // The audit log (pino-roll's audit.N.log, flushed when the gateway closes) names the certificate's CN.
    await admin.close();
    const directory = dirname(admin.auditFile);
    const written = readdirSync(directory).filter((name) => /^audit\.\d+\.log$/.test(name));
    const audited = written
      .flatMap((name) => readFileSync(join(directory, name), 'utf8').split('\n')).filter((line) => line.includes('"type":"admin"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(audited).toEqual([expect.objectContaining({ type: 'admin', admin: 'ops-alice', action: 'key.create', key_id: 'team-a', tenant: 'acme' })]);
  });

  it('with client certificates optional: a verified certificate or an admin token; neither is 401, the rest of the listener stays open', async () => {
    const admin = await gateway({ tokens: [{ id: 'ops', token: OPS_TOKEN }], tls: { cert: server.cert, key: server.key, ca: trusted.cert } });
    const bob = trusted.client('ops-bob');
    expect((await call(admin, '/api/v1/keys', bob)).status).toBe(200);
    expect((await call(admin, '/api/v1/keys', { token: OPS_TOKEN })).status).toBe(200);
    expect((await call(admin, '/api/v1/keys', {})).status).toBe(401);
    // A certificate the CA did not sign is no identity: without a token, 401; with one, the token's.
    const mallory = foreign.client('ops-bob');
    const refused = await call(admin, '/api/v1/usage', mallory);
    expect(refused.status).toBe(401);
    expect((refused.body as { error: { code: string } }).error.code).toBe('admin_unauthorized');
    expect((await call(admin, '/api/v1/keys', { ...mallory, token: OPS_TOKEN }, { method: 'POST', body: { id: 'by-token' } })).status).toBe(201);
    expect((await call(admin, '/api/v1/keys', bob, { method: 'POST', body: { id: 'by-certificate' } })).status).toBe(201);
    expect((await call(admin, '/metrics', {})).status).toBe(200);
    const changes = admin.logs.filter((line) => line.msg === 'admin API changed a key');
    expect(changes.map((line) => [line.admin, line.key_id])).toEqual([
      ['ops', 'by-token'],
      ['ops-bob', 'by-certificate'],
    ]);
  });

  it('without a CA: HTTPS with the bearer token only', async () => {
    const admin = await gateway({ tokens: [{ id: 'ops', token: OPS_TOKEN }], tls: { cert: server.cert, key: server.key } });
    expect((await call(admin, '/api/v1/keys', { token: OPS_TOKEN })).status).toBe(200);
    expect((await call(admin, '/api/v1/keys', trusted.client('ops-carol'))).status).toBe(401);
  });
});
