import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { startTestGateway } from '../../helpers/gateway.js';

const MODEL = 'test-model';
const ADMIN_TOKEN = 'audit-admin-token-0123456789abcdefghij';
const PROMPT_MARKER = 'please-never-log-this-prompt';
let simulator: RunningSimulator;

beforeAll(async () => {
  simulator = await startSimulator({ seed: 9, models: [MODEL], outputTokens: { min: 4, max: 4 }, prefillBaseMs: 0, interTokenMs: 0 });
});
afterAll(async () => {
  await simulator?.close();
});

const REQUEST_FIELDS = ['time', 'type', 'request_id', 'key_id', 'tenant', 'method', 'route', 'model', 'status', 'outcome', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'cost', 'cost_currency'];
const ADMIN_FIELDS = ['time', 'type', 'request_id', 'admin', 'action', 'key_id', 'tenant'];

describe('the audit log', () => {
  it('records who did what (requests and admin changes), rotates by size, and never holds a secret or a prompt', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tollbooth-audit-'));
    const secret = generateApiKey();
    const keysFile = join(directory, 'keys.yaml');
    writeFileSync(keysFile, '');
    const gateway = await startTestGateway({
      replicas: [{ name: 'sim', url: simulator.url, models: [MODEL] }],
      auth: { enabled: true, keys: [{ id: 'team-a', tenant: 'acme', hash: hashApiKey(secret) }], keysFile },
      admin: { tokens: [{ id: 'ops', token: ADMIN_TOKEN }] },
      cost: { tokenPrices: { [MODEL]: { input: 1, output: 2 } } },
      logging: { audit: { file: join(directory, 'audit.log'), maxBytes: 4096, keepFiles: 2 } },
    });
    let created: string;
    try {
      const requests = 40;
      for (let index = 0; index < requests; index += 1) {
        const response = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
          body: JSON.stringify({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: `${PROMPT_MARKER} ${index}` }] }),
        });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      }
      expect((await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
      expect((await fetch(`${gateway.adminUrl}/metrics`)).status).toBe(200);
      expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
      const answer = await fetch(`${gateway.adminUrl}/api/v1/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ id: 'team-b', tenant: 'beta' }),
      });
      expect(answer.status).toBe(201);
      created = ((await answer.json()) as { key: string }).key;
    } finally {
      // The shutdown writes what is buffered and closes the file.
      await gateway.close();
    }

    const files = readdirSync(directory).filter((name) => /^audit\.\d+\.log$/.test(name));
    // Rotated by size: more than one file was written, and at most the current one plus keepFiles remain.
    expect(Math.max(...files.map((name) => Number(name.split('.')[1])))).toBeGreaterThan(2);
    expect(files.length).toBeLessThanOrEqual(3);
    const text = files.map((name) => readFileSync(join(directory, name), 'utf8')).join('');
    const lines = text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);

    const requestLines = lines.filter((line) => line.type === 'request');
    for (const line of requestLines) expect(Object.keys(line)).toEqual(REQUEST_FIELDS);
    const served = requestLines.filter((line) => line.status === 200);
    expect(served.length).toBeGreaterThan(0);
    expect(served[served.length - 1]).toMatchObject({ key_id: 'team-a', tenant: 'acme', model: MODEL, route: '/v1/chat/completions', outcome: 'success', output_tokens: 4 });
    expect(Number(served[served.length - 1]?.cost)).toBeGreaterThan(0);
    // The refused request is there too (who tried), with no key id; probes and scrapes are not.
    expect(requestLines.some((line) => line.status === 401 && line.key_id === null)).toBe(true);
    expect(requestLines.every((line) => line.route === '/v1/chat/completions')).toBe(true);

    const adminLines = lines.filter((line) => line.type === 'admin');
    expect(adminLines).toHaveLength(1);
    expect(Object.keys(adminLines[0] ?? {})).toEqual(ADMIN_FIELDS);
    expect(adminLines[0]).toMatchObject({ admin: 'ops', action: 'key.create', key_id: 'team-b', tenant: 'beta' });

    for (const forbidden of [secret, hashApiKey(secret), created, hashApiKey(created), ADMIN_TOKEN, PROMPT_MARKER]) expect(text).not.toContain(forbidden);
  });
});
