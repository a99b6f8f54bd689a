import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parse, stringify } from 'yaml';
import { storedKeySchema, type StoredKeyInput } from '../auth/policy.js';
import { RedisKeyStore } from '../auth/redis-key-store.js';
import { loadConfig } from '../config/load.js';
import { DEFAULT_MONITORING_CONFIG } from '../monitoring/config.js';
import { renderMonitoringFiles } from './generate-monitoring.js';
import { PROMETHEUS_FILE, RULES_FILE } from '../monitoring/scrape-config.js';
import { withDemoKey } from './demo-key.js';
import { demoKeyLines, startDemoSimulators } from './demo.js';

/**
 * `tollbooth stack`: the whole picture on one machine. The demo's simulated replicas (with their
 * DCGM pages), a redis-server, two gateways sharing it for rate limits and keys, Prometheus with
 * the generated scrape config and rules (targets rewritten to this stack's ports, exemplar
 * storage on) and Alertmanager with deploy/alertmanager. Ctrl-C (SIGINT or SIGTERM) stops every
 * child process and removes the temporary directory.
 */

/** dist/src/cli/stack.js (or src/cli/stack.ts) → the repository root. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes('/dist/') ? '../../..' : '../..');

/** The binaries and the Debian package that provides each. */
const BINARIES = {
  redis: { names: ['redis-server'], pkg: 'redis-server' },
  prometheus: { names: ['prometheus'], pkg: 'prometheus' },
  alertmanager: { names: ['prometheus-alertmanager', 'alertmanager'], pkg: 'prometheus-alertmanager' },
} as const;

/** Fixed ports for a user (the config's replica ports for the simulators); --free-ports takes free ones for all. */
const DEFAULT_PORTS = { gateways: [8080, 8090], admins: [8081, 8091], redis: 6380, prometheus: 9090, alertmanager: 9093 } as const;

export const STACK_USAGE = `usage: tollbooth stack [--config FILE] [--free-ports]

  Runs simulated vLLM replicas for the loopback replicas of the config (default config/demo.yaml),
  redis-server, two gateways sharing it, Prometheus and Alertmanager; prints their URLs; Ctrl-C stops all.
  Needs redis-server, prometheus and prometheus-alertmanager on PATH (Debian packages of those names).

  --free-ports  every process on a free loopback port instead of 8080/8081, 8090/8091, 6380, 9090, 9093
`;

function findBinary(names: readonly string[]): string | undefined {
  for (const name of names) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir === '') continue;
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((done, fail) => {
            server.once('error', fail);
            server.listen(0, '127.0.0.1', () => {
              const address = server.address();
              if (typeof address === 'object' && address !== null) done(address.port);
              else fail(new Error('no port'));
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done()))));
  }
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<void>;
}

async function waitFor(what: string, child: Child | undefined, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child !== undefined && (child.process.exitCode !== null || child.process.signalCode !== null)) {
      throw new Error(`${child.name} exited (${child.process.exitCode ?? child.process.signalCode}) before it was ready:\n${tail(child.logFile)}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs / 1000} s${child === undefined ? '' : `:\n${tail(child.logFile)}`}`);
    await new Promise((wake) => setTimeout(wake, 200));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

const httpOk = (url: string) => async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;

export async function runStack(args: { readonly configFile: string | undefined; readonly freePorts: boolean }): Promise<void> {
  const missing = Object.values(BINARIES).filter((binary) => findBinary(binary.names) === undefined);
  if (missing.length > 0) {
    process.stderr.write(
      `tollbooth stack: missing ${missing.map((binary) => binary.names[0]).join(', ')}.\n` +
        `Install the Debian package(s): sudo apt-get install ${missing.map((binary) => binary.pkg).join(' ')}\n` +
        `(in a checkout, "bash test/ensure-system-tools.sh" installs them)\n`,
    );
    process.exitCode = 2;
    return;
  }
  const binary = (key: keyof typeof BINARIES) => findBinary(BINARIES[key].names) as string;

  const configFile = args.configFile ?? join(ROOT, 'config/demo.yaml');
  // The demo's key, created in the shared Redis key store below, so both gateways know it.
  const demoKey = withDemoKey(process.env);
  const config = loadConfig({ file: configFile, env: demoKey.env });
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-stack-'));
  const children: Child[] = [];
  let simulators: Awaited<ReturnType<typeof startDemoSimulators>>['simulators'] = [];
  let stopping: Promise<void> | undefined;

  const stop = (reason: string, code: number): Promise<void> =>
    (stopping ??= (async () => {
      process.stderr.write(`\n  stopping the stack (${reason})…\n`);
      // Gateways first (they drain), then the rest.
      for (const group of [children.filter((child) => child.name.startsWith('tollbooth')), children.filter((child) => !child.name.startsWith('tollbooth'))]) {
        await Promise.all(
          group.map(async (child) => {
            if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
            const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
            await child.exited;
            clearTimeout(timer);
          }),
        );
      }
      await Promise.all(simulators.map((simulator) => simulator.close()));
      rmSync(dir, { recursive: true, force: true });
      process.stderr.write('  stopped.\n');
      process.exit(code);
    })());
  let signalled = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (signalled) return;
      signalled = true;
      void stop(signal, 0);
    });
  }

  const start = (name: string, command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env): Child => {
    // Once stopping, nothing new starts (a signal during start-up must not leave a late child behind).
    if (stopping !== undefined) throw new Error(`not starting ${name}: the stack is stopping`);
    const logFile = join(dir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    // detached: its own process group, so a terminal's Ctrl-C reaches only this process, which then
    // stops the children in order (gateways first) rather than all at once.
    const child = spawn(command, commandArgs, { stdio: ['ignore', fd, fd], env, detached: true });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.once('error', (error) => process.stderr.write(`${name}: ${error.message}\n`));
    const entry = { name, process: child, logFile, exited };
    children.push(entry);
    void exited.then(() => {
      if (stopping === undefined) void stop(`${name} exited unexpectedly:\n${tail(logFile)}`, 1);
    });
    return entry;
  };

  try {
    const ports = args.freePorts
      ? await (async () => {
          const [g1, g2, a1, a2, redis, prometheus, alertmanager] = (await freePorts(7)) as [number, number, number, number, number, number, number];
          return { gateways: [g1, g2], admins: [a1, a2], redis, prometheus, alertmanager };
        })()
      : DEFAULT_PORTS;

    const started = await startDemoSimulators(config, { freePorts: args.freePorts });
    simulators = started.simulators;

    const redisChild = start('redis-server', binary('redis'), ['--port', String(ports.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
    const redisUrl = `redis://127.0.0.1:${ports.redis}`;
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {}); // connection refused until redis-server listens: waitFor retries
    await waitFor('redis-server', redisChild, async () => {
      if (redis.status !== 'ready') {
        redis.disconnect();
        await redis.connect();
      }
      return (await redis.ping()) === 'PONG';
    });
    const keyPrefix = config.redis.keyPrefix;
    const keys = JSON.parse(demoKey.env.TOLLBOOTH_AUTH_KEYS ?? '[]') as StoredKeyInput[];
    const store = new RedisKeyStore(redis, keyPrefix);
    for (const key of keys) await store.create(storedKeySchema.parse(key));
    redis.disconnect();

    // The gateways' config: the user's file with the simulators' ports, this stack's ports and Redis.
    const raw = (parse(readFileSync(configFile, 'utf8')) ?? {}) as Record<string, Record<string, unknown> | unknown[] | undefined>;
    const rawReplicas = (raw.replicas ?? []) as Record<string, unknown>[];
    const replicas = rawReplicas.map((replica, index) => {
      const moved = started.replicas[index];
      return moved === undefined ? replica : { ...replica, url: moved.url, ...(moved.gpuMetricsUrl === undefined ? {} : { gpuMetricsUrl: moved.gpuMetricsUrl }) };
    });
    const gatewayFiles = ports.gateways.map((port, index) => {
      const gatewayConfig = {
        ...raw,
        server: { ...(raw.server as object), host: '127.0.0.1', port },
        admin: { ...(raw.admin as object), enabled: true, host: '127.0.0.1', port: ports.admins[index] },
        replicas,
        auth: { ...(raw.auth as object), enabled: true, store: 'redis' },
        rateLimits: { ...(raw.rateLimits as object), store: 'redis' },
        redis: { ...(raw.redis as object), url: redisUrl },
      };
      const file = join(dir, `tollbooth-${index + 1}.yaml`);
      writeFileSync(file, stringify(gatewayConfig));
      loadConfig({ file, env: {} });
      return file;
    });
    // The gateways are started without the demo key in their environment: Redis holds it.
    const gatewayEnv = { ...process.env };
    delete gatewayEnv.TOLLBOOTH_AUTH_KEYS;
    for (const name of ['TOLLBOOTH_PORT', 'TOLLBOOTH_HOST', 'TOLLBOOTH_ADMIN_PORT', 'TOLLBOOTH_ADMIN_HOST', 'TOLLBOOTH_REPLICAS']) delete gatewayEnv[name];
    const cli = process.argv[1] ?? join(ROOT, 'dist/src/cli/tollbooth.js');
    const gateways = gatewayFiles.map((file, index) => start(`tollbooth-${index + 1}`, process.execPath, [cli, 'start', '--config', file], gatewayEnv));

    // Prometheus: the generated scrape config and rules, its targets this stack's.
    const monitoring = {
      ...DEFAULT_MONITORING_CONFIG,
      tollbooth: { ...DEFAULT_MONITORING_CONFIG.tollbooth, targets: ports.admins.map((port) => `127.0.0.1:${port}`) },
      vllm: { ...DEFAULT_MONITORING_CONFIG.vllm, targets: simulators.map((simulator) => new URL(simulator.url).host) },
      alertmanagers: [`127.0.0.1:${ports.alertmanager}`],
    };
    const files = renderMonitoringFiles(monitoring);
    for (const path of [PROMETHEUS_FILE, RULES_FILE]) writeFileSync(join(dir, basename(path)), files.get(path) as string);
    const prometheus = start('prometheus', binary('prometheus'), [
      `--config.file=${join(dir, basename(PROMETHEUS_FILE))}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
      '--enable-feature=exemplar-storage',
    ]);
    const alertmanager = start('alertmanager', binary('alertmanager'), [
      `--config.file=${join(ROOT, 'deploy/alertmanager/alertmanager.yaml')}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${ports.alertmanager}`,
      '--cluster.listen-address=',
    ]);

    const apiUrls = ports.gateways.map((port) => `http://127.0.0.1:${port}`);
    const adminUrls = ports.admins.map((port) => `http://127.0.0.1:${port}`);
    const prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;
    const alertmanagerUrl = `http://127.0.0.1:${ports.alertmanager}`;
    await Promise.all([
      ...gateways.map((gateway, index) => waitFor(gateway.name, gateway, httpOk(`${apiUrls[index]}/health`))),
      waitFor('prometheus', prometheus, httpOk(`${prometheusUrl}/-/ready`)),
      waitFor('alertmanager', alertmanager, httpOk(`${alertmanagerUrl}/-/ready`)),
    ]);

    process.stdout.write(`
  The Tollbooth stack is running (${simulators.length} simulated vLLM replicas, Redis at ${redisUrl}):

${apiUrls.map((url, index) => `    gateway ${index + 1}   API ${url}/v1   admin ${adminUrls[index]}/metrics`).join('\n')}
    prometheus  ${prometheusUrl}
    alertmanager ${alertmanagerUrl}
    replicas    ${simulators.map((simulator) => simulator.url).join('  ')}

${demoKey.secret === undefined ? '  API keys: the ones in TOLLBOOTH_AUTH_KEYS are in the Redis key store.\n' : demoKeyLines(demoKey.secret, apiUrls[0] as string)}    (the same key works on ${apiUrls[1]}/v1: both gateways read it from Redis and share its limits)

  Logs and data: ${dir} (removed on exit). Ctrl-C stops everything.

`);
  } catch (error) {
    process.stderr.write(`tollbooth stack: ${error instanceof Error ? error.message : String(error)}\n`);
    await stop('start-up failed', 1);
  }
}
