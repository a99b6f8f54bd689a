import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { storedKeySchema, type StoredKey } from '../../../src/auth/policy.js';
import { redisClientFactory } from '../../../src/auth/key-sources.js';
import { redisConfigSchema } from '../../../src/redis/config.js';
import { startRedisKeySource, type RedisKeySource } from '../../../src/auth/redis-key-source.js';
import { RedisKeyStore } from '../../../src/auth/redis-key-store.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

const PREFIX = 'test:';

function storedKey(id: string, secret: string): StoredKey {
  return storedKeySchema.parse({ id, tenant: 'acme', models: ['llama-3-8b'], limits: { requestsPerMinute: 60, maxConcurrent: 4 }, hash: hashApiKey(secret) });
}

function recordingLogger(): { log: pino.Logger; messages: () => string[] } {
  const lines: { msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
  return { log, messages: () => lines.map((line) => line.msg) };
}

async function within(timeoutMs: number, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((wake) => setTimeout(wake, 5));
  }
  return Date.now() - started;
}

interface Instance {
  ring: KeyRing;
  source: RedisKeySource;
  messages: () => string[];
}

describe('Redis key store shared by three gateway instances', () => {
  let server: RedisServer;
  let admin: Redis;
  const instances: Instance[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  const startInstance = async (resyncIntervalMs = 30_000, startTimeoutMs?: number): Promise<Instance> => {
    const ring = new KeyRing();
    const { log, messages } = recordingLogger();
    const source = await startRedisKeySource({
      ring,
      createClient: redisClientFactory(redisConfigSchema.parse({ url: server.url })),
      keyPrefix: PREFIX,
      resyncIntervalMs,
      log,
      ...(startTimeoutMs === undefined ? {} : { startTimeoutMs }),
    });
    const instance = { ring, source, messages };
    instances.push(instance);
    return instance;
  };
  const adminStore = (): RedisKeyStore => new RedisKeyStore(admin, PREFIX);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: (attempt) => Math.min(attempt * 50, 500) });
    admin.on('error', () => {});
  });
  afterEach(async () => {
    await Promise.all(instances.splice(0).map((instance) => instance.source.stop()));
    if (admin.status === 'ready') await admin.flushall();
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  it('a created key reaches every instance within a second, and so does its revocation', async () => {
    const existing = generateApiKey();
    await adminStore().create(storedKey('existing', existing));
    const gateways = await Promise.all([startInstance(), startInstance(), startInstance()]);
    for (const { ring } of gateways) expect(ring.verify(existing)?.keyId).toBe('existing');

    const secret = generateApiKey();
    await adminStore().create(storedKey('team-a', secret));
    const seen = await within(1_000, () => gateways.every(({ ring }) => ring.verify(secret)?.keyId === 'team-a'));
    expect(seen).toBeLessThan(1_000);
    expect(gateways[0]?.ring.verify(secret)?.policy.limits).toEqual({ requestsPerMinute: 60, maxConcurrent: 4 });

    expect(await adminStore().revoke('team-a')).toBe(1);
    const gone = await within(1_000, () => gateways.every(({ ring }) => ring.verify(secret) === undefined));
    expect(gone).toBeLessThan(1_000);
    for (const { ring } of gateways) expect(ring.verify(existing)?.keyId).toBe('existing');
  });

  it('refuses a second key with the same id, and revoking an unknown id removes nothing', async () => {
    await adminStore().create(storedKey('team-a', generateApiKey()));
    await expect(adminStore().create(storedKey('team-a', generateApiKey()))).rejects.toThrow(/already exists/);
    expect(await adminStore().revoke('nobody')).toBe(0);
    expect((await adminStore().load()).keys.map((key) => key.id)).toEqual(['team-a']);
  });

  it('the periodic resync catches a change nobody announced', async () => {
    const gateway = await startInstance(1_000);
    const secret = generateApiKey();
    const { hash, ...policy } = storedKey('silent', secret);
    await admin.hset(`${PREFIX}auth:keys`, hash, JSON.stringify(policy));
    await within(2_500, () => gateway.ring.verify(secret) !== undefined);
  });

  it('ignores and reports an invalid entry without losing the valid ones', async () => {
    const secret = generateApiKey();
    await adminStore().create(storedKey('good', secret));
    await admin.hset(`${PREFIX}auth:keys`, hashApiKey('x'), '{"id":"bad","limits":{"rpm":1}}');
    await admin.hset(`${PREFIX}auth:keys`, 'not-a-hash', '{"id":"worse"}');
    const gateway = await startInstance();
    expect(gateway.ring.verify(secret)?.keyId).toBe('good');
    expect(gateway.ring.size).toBe(1);
    expect(gateway.messages()).toContain('Redis key store holds invalid entries: they are ignored');
  });

  it('keeps the last keys while Redis is down, logs the outage once, and resyncs after the restart', async () => {
    const before = generateApiKey();
    await adminStore().create(storedKey('before', before));
    const gateways = await Promise.all([startInstance(1_000), startInstance(1_000), startInstance(1_000)]);

    await server.kill();
    await new Promise((wake) => setTimeout(wake, 2_500));
    for (const gateway of gateways) {
      expect(gateway.ring.verify(before)?.keyId).toBe('before');
      expect(gateway.messages().filter((message) => message.startsWith('Redis key store unreachable'))).toHaveLength(1);
    }

    await server.restart();
    await within(5_000, () => admin.status === 'ready');
    const after = generateApiKey();
    await adminStore().create(storedKey('after', after));
    await within(3_000, () => gateways.every(({ ring }) => ring.verify(after)?.keyId === 'after'));
    // The restarted server is empty: the store is the truth, so the old key is gone everywhere.
    for (const gateway of gateways) {
      expect(gateway.ring.verify(before)).toBeUndefined();
      expect(gateway.messages()).toContain('Redis key store reachable again: keys resynchronised');
    }
  });

  it('starts while Redis is down and loads the keys once it is up', async () => {
    const secret = generateApiKey();
    await server.kill();
    const gateway = await startInstance(30_000, 300);
    expect(gateway.ring.verify(secret)).toBeUndefined();
    expect(gateway.messages().filter((message) => message.startsWith('Redis key store unreachable'))).toHaveLength(1);
    await server.restart();
    await within(5_000, () => admin.status === 'ready');
    await adminStore().create(storedKey('late', secret));
    await within(3_000, () => gateway.ring.verify(secret)?.keyId === 'late');
  });
});
