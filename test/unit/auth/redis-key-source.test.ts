import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { startRedisKeySource } from '../../../src/auth/redis-key-source.js';

// The order in which two sockets report a dead server cannot be arranged with a real one (the
// integration test covers real outages); these connections hand out each reply when told to.
class ScriptedConnection extends EventEmitter {
  status = 'ready';
  private readonly pending: ((entries: Record<string, string>) => void)[] = [];

  hgetall(): Promise<Record<string, string>> {
    return new Promise((resolve) => void this.pending.push(resolve));
  }

  subscribe(): Promise<number> {
    return Promise.resolve(1);
  }

  quit(): Promise<'OK'> {
    this.status = 'end';
    return Promise.resolve('OK');
  }

  /** Answers the oldest HGETALL still waiting. */
  answer(entries: Record<string, string>): void {
    const next = this.pending.shift();
    if (next === undefined) throw new Error('no HGETALL is waiting');
    next(entries);
  }

  get waiting(): number {
    return this.pending.length;
  }
}

function keyEntry(id: string): Record<string, string> {
  return { [hashApiKey(generateApiKey())]: JSON.stringify({ id, tenant: 'acme', models: ['*'], limits: {} }) };
}

const flush = (): Promise<void> => new Promise((wake) => setImmediate(wake));

describe('Redis key source outage log', () => {
  it('a load in flight when the outage began does not end it; a load issued during the outage does', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push((JSON.parse(line) as { msg: string }).msg) });
    const connections = new Map<string, ScriptedConnection>();
    const createClient = (name: string): Redis => {
      const connection = new ScriptedConnection();
      connections.set(name, connection);
      return connection as unknown as Redis;
    };
    const ring = new KeyRing();
    const starting = startRedisKeySource({ ring, createClient, keyPrefix: 'test:', resyncIntervalMs: 60_000, log });
    const commands = connections.get('tollbooth-auth')!;
    const subscriber = connections.get('tollbooth-auth-changes')!;
    await flush();
    commands.answer(keyEntry('first'));
    const source = await starting;
    expect(ring.size).toBe(1);

    // A reload is on the wire when the subscriber reports the server gone; its reply comes after.
    const inFlight = source.resync('test');
    expect(commands.waiting).toBe(1);
    subscriber.emit('error', new Error('read ECONNRESET'));
    commands.answer({ ...keyEntry('first'), ...keyEntry('second') });
    await inFlight;
    expect(ring.size).toBe(2);
    expect(lines.filter((line) => line.startsWith('Redis key store unreachable'))).toHaveLength(1);
    expect(lines.filter((line) => line.startsWith('Redis key store reachable again'))).toHaveLength(0);

    // The next load is issued while the outage is known: its success is the recovery.
    const afterwards = source.resync('test');
    commands.answer(keyEntry('first'));
    await afterwards;
    expect(ring.size).toBe(1);
    expect(lines.filter((line) => line.startsWith('Redis key store reachable again'))).toHaveLength(1);

    // And a later outage is a new one, logged again.
    commands.emit('error', new Error('connect ECONNREFUSED'));
    expect(lines.filter((line) => line.startsWith('Redis key store unreachable'))).toHaveLength(2);
    await source.stop();
  });
});
