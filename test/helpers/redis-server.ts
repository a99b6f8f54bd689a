import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { closeRedisClient, createRedisClient, type RedisClientOptions } from '../../src/redis/client.js';
import { redisConfigSchema, type RedisConfigInput } from '../../src/redis/config.js';
import { freePort } from './free-ports.js';

/**
 * A real redis-server on a free loopback port, with no persistence: what the Redis store tests
 * and the multi-instance tests run against (`npm test` installs redis-server when missing).
 * `kill` and `restart` simulate an outage on the same port, so clients must reconnect by themselves.
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: the server vanishes without closing its sockets politely. */
  kill(): Promise<void>;
  /** Starts a fresh (empty) server on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function accepting(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not accept connections on ${port}`);
    await new Promise((wake) => setTimeout(wake, 20));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', (error) => {
      throw new Error(`redis-server could not start (is it installed? npm test installs it): ${error.message}`);
    });
    await accepting(port, 5_000);
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined) return;
    running.kill(signal);
    await exited(running);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGKILL');
      await launch();
    },
    stop: () => halt('SIGTERM'),
  };
}

/**
 * For one test file: a redis-server started before its tests and stopped after them, and Redis
 * clients (made with the product's own createRedisClient) that are closed before it stops.
 */
export function useRedisServer(): {
  server(): RedisServer;
  client(settings?: Partial<RedisConfigInput>, options?: RedisClientOptions): Redis;
} {
  let server: RedisServer | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => closeRedisClient(client)));
    await server?.stop();
  });
  const running = (): RedisServer => {
    if (server === undefined) throw new Error('the redis-server starts in beforeAll: use it inside tests and hooks');
    return server;
  };
  return {
    server: running,
    client: (settings = {}, options = {}) => {
      const client = createRedisClient(redisConfigSchema.parse({ ...settings, url: running().url }), options);
      clients.push(client);
      return client;
    },
  };
}
