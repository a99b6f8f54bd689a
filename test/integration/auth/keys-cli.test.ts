import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../../src/auth/key-format.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { readKeysFile } from '../../../src/auth/keys-file.js';
import { redisClientFactory } from '../../../src/auth/key-sources.js';
import { redisConfigSchema } from '../../../src/redis/config.js';
import { startRedisKeySource } from '../../../src/auth/redis-key-source.js';
import { runCli } from '../../helpers/cli.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

async function keys(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = runCli(['keys', ...args]);
  const { code } = await cli.exited();
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

const CREATE_FLAGS = ['--id', 'team-a', '--tenant', 'acme', '--models', 'llama-3-8b,qwen', '--rpm', '60', '--tpm', '20000', '--max-concurrent', '4', '--daily-budget', '5', '--priority', 'batch'];

describe('tollbooth keys (the built CLI as a process)', () => {
  it('creates a key into a keys file, lists it without secrets, and revokes it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-cli-keys-')), 'keys.yaml');
    const created = await keys(['create', ...CREATE_FLAGS, '--file', file]);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^sk-tb-[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/shown only once/);
    expect(created.stderr).not.toContain(secret);

    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(secret);
    expect(text).toContain(hashApiKey(secret));
    const ring = new KeyRing();
    ring.replaceSource('file', readKeysFile(file));
    expect(ring.verify(secret)?.policy).toEqual({
      id: 'team-a',
      tenant: 'acme',
      models: ['llama-3-8b', 'qwen'],
      limits: { requestsPerMinute: 60, tokensPerMinute: 20000, maxConcurrent: 4 },
      budget: { daily: 5 },
      priority: 'batch',
    });

    const listed = await keys(['list', '--file', file]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^team-a\s+acme\s+llama-3-8b,qwen\s+60\s+20000\s+-\/-\s+4\s+5\/-\s+batch$/m);
    expect(listed.stdout).not.toContain(hashApiKey(secret));
    const json = await keys(['list', '--json', '--file', file]);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id: 'team-a', tenant: 'acme' })]);
    expect(json.stdout).not.toContain(hashApiKey(secret));

    expect((await keys(['create', ...CREATE_FLAGS, '--file', file])).code).toBe(1);
    expect((await keys(['revoke', '--id', 'team-a', '--file', file])).code).toBe(0);
    expect(readKeysFile(file)).toEqual([]);
    const again = await keys(['revoke', '--id', 'team-a', '--file', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no key with id "team-a"/);
  });

  it('rejects bad flags with every problem and exit status 2, storing nothing', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-cli-keys-')), 'keys.yaml');
    const bad = await keys(['create', '--tenant', 'a b', '--rpm', 'fast', '--max-concurrent', '0', '--priority', 'urgent', '--file', file]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('--id is required');
    expect(bad.stderr).toContain('--rpm: expected a number, got "fast"');
    expect(bad.stderr).toMatch(/--tenant: /);
    expect(bad.stderr).toMatch(/--max-concurrent: /);
    expect(bad.stderr).toMatch(/--priority: .*critical/);
    expect(() => readFileSync(file)).toThrow();
    expect((await keys(['create', '--id', 'x', '--frobnicate', '--file', file])).code).toBe(2);
    expect((await keys(['list'])).stderr).toContain('name exactly one key store');
    expect((await keys(['rotate', '--file', file])).code).toBe(2);
  });

  it('finds the key store in the gateway configuration (--config)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tollbooth-cli-keys-'));
    const keysFile = join(directory, 'keys.yaml');
    const config = join(directory, 'tollbooth.yaml');
    writeFileSync(config, `replicas:\n  - url: http://127.0.0.1:9\n    models: [m]\nauth:\n  keysFile: ${keysFile}\n`);
    const created = await keys(['create', '--id', 'from-config', '--config', config]);
    expect(created.code).toBe(0);
    expect(readKeysFile(keysFile)).toEqual([expect.objectContaining({ id: 'from-config', hash: hashApiKey(created.stdout.trim()) })]);

    writeFileSync(config, 'replicas: []\nauth: { enabled: maybe }\n');
    const invalid = await keys(['list', '--config', config]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/invalid configuration[\s\S]*auth\.enabled/);
  });

  describe('with the Redis store', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('creates a key a running ring accepts within a second, lists it, and revokes it', async () => {
      const ring = new KeyRing();
      const source = await startRedisKeySource({
        ring,
        createClient: redisClientFactory(redisConfigSchema.parse({ url: server.url })),
        keyPrefix: 'cli:',
        resyncIntervalMs: 30_000,
        log: pino({ level: 'silent' }),
      });
      try {
        const created = await keys(['create', ...CREATE_FLAGS, '--redis', server.url, '--prefix', 'cli:']);
        expect(created.code).toBe(0);
        const secret = created.stdout.trim();
        const createdAt = Date.now();
        while (ring.verify(secret) === undefined && Date.now() - createdAt < 1_000) await new Promise((wake) => setTimeout(wake, 5));
        expect(ring.verify(secret)?.keyId).toBe('team-a');

        const listed = await keys(['list', '--redis', server.url, '--prefix', 'cli:']);
        expect(listed.stdout).toMatch(/^team-a\s+acme\s+llama-3-8b,qwen\s+60\s+20000/m);
        expect(listed.stdout).not.toContain(hashApiKey(secret));

        expect((await keys(['create', ...CREATE_FLAGS, '--redis', server.url, '--prefix', 'cli:'])).stderr).toMatch(/already exists/);
        expect((await keys(['revoke', '--id', 'team-a', '--redis', server.url, '--prefix', 'cli:'])).code).toBe(0);
        const revokedAt = Date.now();
        while (ring.verify(secret) !== undefined && Date.now() - revokedAt < 1_000) await new Promise((wake) => setTimeout(wake, 5));
        expect(ring.verify(secret)).toBeUndefined();
      } finally {
        await source.stop();
      }
    });

    it('says why when Redis cannot be reached', async () => {
      const unreachable = await keys(['list', '--redis', 'redis://127.0.0.1:1']);
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toMatch(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    });
  });
});
