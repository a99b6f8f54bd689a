import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authConfigSchema } from '../../../src/auth/config.js';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { startKeyRing } from '../../../src/auth/key-sources.js';
import { KeysFileError } from '../../../src/auth/keys-file.js';
import { storedKeySchema } from '../../../src/auth/policy.js';
import { RedisKeyStore } from '../../../src/auth/redis-key-store.js';
import { redisConfigSchema } from '../../../src/redis/config.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

const log = pino({ level: 'silent' });

describe('startKeyRing', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('merges inline keys, the keys file and the Redis store, and stops every watcher and connection', async () => {
    const inline = generateApiKey();
    const fromFile = generateApiKey();
    const fromRedis = generateApiKey();
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-sources-')), 'keys.yaml');
    writeFileSync(file, `- id: file-key\n  hash: ${hashApiKey(fromFile)}\n`);
    const admin = new Redis(server.url);
    await new RedisKeyStore(admin, 'sources:').create(storedKeySchema.parse({ id: 'redis-key', tenant: 'acme', hash: hashApiKey(fromRedis) }));

    const auth = authConfigSchema.parse({ keys: [{ id: 'inline-key', hash: hashApiKey(inline) }], keysFile: file, store: 'redis' });
    const running = await startKeyRing({ auth, redis: redisConfigSchema.parse({ url: server.url, keyPrefix: 'sources:' }), log });
    expect(running.ring.verify(inline)?.keyId).toBe('inline-key');
    expect(running.ring.verify(fromFile)?.keyId).toBe('file-key');
    expect(running.ring.verify(fromRedis)?.tenant).toBe('acme');

    const replacement = generateApiKey();
    running.applyConfig(authConfigSchema.parse({ keys: [{ id: 'inline-key', hash: hashApiKey(replacement) }] }));
    expect(running.ring.verify(inline)).toBeUndefined();
    expect(running.ring.verify(replacement)?.keyId).toBe('inline-key');
    expect(running.ring.verify(fromRedis)?.keyId).toBe('redis-key');

    const clientsBefore = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
    await running.stop();
    await new Promise((wake) => setTimeout(wake, 100));
    const clientsAfter = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
    expect(clientsBefore - clientsAfter).toBe(2);
    await admin.quit();
  });

  it('refuses to start with a broken keys file or a Redis store without a redis section', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-sources-')), 'keys.yaml');
    writeFileSync(file, '- id: no-hash\n');
    await expect(startKeyRing({ auth: authConfigSchema.parse({ keysFile: file }), log })).rejects.toBeInstanceOf(KeysFileError);
    await expect(startKeyRing({ auth: authConfigSchema.parse({ store: 'redis' }), log })).rejects.toThrow(/no redis section/);
  });
});
