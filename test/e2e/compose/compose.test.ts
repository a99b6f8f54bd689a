import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

import { loadConfig } from '../../../src/config/load.js';
import type { TollboothConfig } from '../../../src/config/schema.js';
import { GRAFANA_DASHBOARDS_PATH } from '../../../src/monitoring/grafana-provisioning.js';
import type { prometheusConfig } from '../../../src/monitoring/scrape-config.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { simulatorOptionsFromArgs } from '../../../src/sim/cli.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';

/**
 * deploy/compose.yaml as Docker Compose itself reads it: `docker-compose config` (Compose v5.6.0,
 * built from the Go module proxy by build-compose.sh, cached) resolves the anchors, merges, relative
 * paths and defaults exactly as `docker compose up` would, and rejects what up would reject. No
 * engine runs here, so the checks are on that normalised model: what each service runs, what it
 * mounts, what Prometheus scrapes, and that the healthchecks pass against the real processes.
 * The test fails when Compose cannot be built.
 */
const BUILD_SCRIPT = 'test/e2e/compose/build-compose.sh';
const COMPOSE_FILE = resolve('deploy/compose.yaml');
const GATEWAYS = ['tollbooth-1', 'tollbooth-2'];
const SIMULATORS = ['vllm-a', 'vllm-b', 'vllm-c'];
const CONFIG_IN_CONTAINER = '/etc/tollbooth/tollbooth.yaml';

interface Mount {
  type: string;
  source: string;
  target: string;
  read_only?: boolean;
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | null;
  environment?: Record<string, string | null>;
  volumes?: Mount[];
  ports?: Array<{ target: number; published: string }>;
  depends_on?: Record<string, { condition: string; required: boolean }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  read_only?: boolean;
  cap_drop?: string[];
}

let composeBinary: string;
let services: Record<string, Service>;

function buildCompose(): string {
  const run = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) throw new Error(`Docker Compose could not be built (exit ${String(run.status)}): ${run.stderr}`);
  return run.stdout.trim().split('\n').at(-1)!;
}

/** `docker-compose -f <file> config --format json`: the model Compose would run. */
function composeConfig(file: string): { services: Record<string, Service> } {
  return JSON.parse(execFileSync(composeBinary, ['-f', file, 'config', '--format', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as {
    services: Record<string, Service>;
  };
}

function mountOf(service: string, target: string): Mount {
  const mount = services[service]?.volumes?.find((volume) => volume.target === target);
  expect(mount, `${service} mounts ${target}`).toBeDefined();
  return mount!;
}

/** The gateway config a gateway service mounts, loaded as the gateway loads it. */
function gatewayConfig(service: string): TollboothConfig {
  expect(services[service]?.command).toEqual(['start', '--config', CONFIG_IN_CONTAINER]);
  return loadConfig({ file: mountOf(service, CONFIG_IN_CONTAINER).source, env: {} });
}

function seconds(duration: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(duration);
  expect(match, duration).not.toBeNull();
  return Number(match![1]) * { ms: 0.001, s: 1, m: 60 }[match![2] as 'ms' | 's' | 'm'];
}

/** `host:port` → [service, port]; the host must be a service of the compose file. */
function serviceTarget(target: string): [string, number] {
  const [host, port] = target.split(':');
  expect(services, target).toHaveProperty(host as string);
  return [host as string, Number(port)];
}

/**
 * Runs a service's healthcheck command (`node -e "fetch('http://127.0.0.1:PORT/…')…"`) with the
 * container's port replaced by `port`: its exit status. Asynchronous: the processes it checks
 * may run in this test's event loop.
 */
function runHealthcheck(service: string, port: number): Promise<number> {
  const test = services[service]?.healthcheck?.test ?? [];
  expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
  const script = test[3]!.replace(/http:\/\/127\.0\.0\.1:\d+\//, `http://127.0.0.1:${port}/`);
  expect(script).not.toBe(test[3]);
  return new Promise((done) => {
    execFile(process.execPath, ['-e', script], { timeout: 15_000 }, (error) => done(error === null ? 0 : typeof error.code === 'number' ? error.code : -1));
  });
}

beforeAll(() => {
  composeBinary = buildCompose();
  services = composeConfig(COMPOSE_FILE).services;
}, 600_000);

describe('deploy/compose.yaml through `docker-compose config`', () => {
  it('is accepted by Compose, which also rejects a broken copy of it (the check can fail)', () => {
    expect(execFileSync(composeBinary, ['version', '--short'], { encoding: 'utf8' }).trim()).toBe('5.6.0');
    const broken = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: false }) as { services: Record<string, Record<string, unknown>> };
    broken.services.prometheus!.depends_on = { 'no-such-service': { condition: 'service_started' } };
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-compose-')), 'compose.yaml');
    writeFileSync(file, stringify(broken));
    const run = spawnSync(composeBinary, ['-f', file, 'config'], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/no-such-service/);
  });

  it('runs two gateways, one Redis, three simulated replicas, Prometheus, Alertmanager, Grafana and Jaeger', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'grafana', 'jaeger', 'prometheus', 'redis', ...GATEWAYS, ...SIMULATORS].sort());
    for (const name of [...GATEWAYS, ...SIMULATORS]) {
      expect(services[name]?.build, name).toEqual({ context: resolve('.'), dockerfile: 'deploy/Dockerfile' });
      expect(services[name]?.image).toBe('tollbooth:local');
    }
    expect(existsSync(resolve('deploy/Dockerfile'))).toBe(true);
    expect(services.jaeger?.image).toMatch(/^jaegertracing\/jaeger:2\./);
    expect(services.redis?.command).toEqual(expect.arrayContaining(['redis-server']));
    expect(services.redis?.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('points both gateways at the same Redis, the three replicas and Jaeger, and starts them after the replicas are healthy', () => {
    const configs = GATEWAYS.map(gatewayConfig);
    // One file for both: the same Redis for keys and limits, the same replicas, the same routing.
    expect(new Set(GATEWAYS.map((name) => mountOf(name, CONFIG_IN_CONTAINER).source)).size).toBe(1);
    for (const [index, config] of configs.entries()) {
      const name = GATEWAYS[index]!;
      expect(new URL(config.redis.url).hostname).toBe('redis');
      expect(new URL(config.redis.url).port).toBe('6379');
      expect(config.rateLimits.store).toBe('redis');
      expect(config.auth.store).toBe('redis');
      expect(config.replicas.map((replica) => new URL(replica.url).hostname).sort()).toEqual(SIMULATORS);
      for (const replica of config.replicas) expect(new URL(replica.url).port).toBe('8000');
      expect(services[name]?.environment).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
      const dependsOn = services[name]?.depends_on ?? {};
      expect(dependsOn.redis?.condition).toBe('service_healthy');
      for (const simulator of SIMULATORS) expect(dependsOn[simulator]?.condition, `${name} → ${simulator}`).toBe('service_healthy');
    }
    for (const service of Object.values(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) expect(services).toHaveProperty(dependency);
    }
  });

  it('lets a gateway drain before Compose kills it, and runs it read-only without capabilities', () => {
    for (const name of GATEWAYS) {
      const config = gatewayConfig(name);
      expect(seconds(services[name]!.stop_grace_period!)).toBeGreaterThan(config.server.drainTimeoutMs / 1000);
      expect(services[name]?.read_only).toBe(true);
      expect(services[name]?.cap_drop).toEqual(['ALL']);
    }
  });

  it('keeps API keys out of the files: hashed in Redis, no key inline in the config or the environment', () => {
    const configText = readFileSync(mountOf('tollbooth-1', CONFIG_IN_CONTAINER).source, 'utf8');
    expect(configText).not.toMatch(/sk-tb-/);
    for (const name of GATEWAYS) {
      const config = gatewayConfig(name);
      expect(config.auth.enabled).toBe(true);
      expect(config.auth.keys).toEqual([]);
      expect(config.auth.keysFile).toBeUndefined();
    }
    for (const [name, service] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        expect(`${name} ${variable}`).not.toMatch(/TOLLBOOTH_AUTH_KEYS|API_KEY/);
        expect(value ?? '').not.toMatch(/sk-/);
      }
    }
  });

  it('publishes each API, Prometheus, Alertmanager, Grafana and Jaeger on its own host port, never an admin listener', () => {
    const published = Object.entries(services).flatMap(([name, service]) => (service.ports ?? []).map((port) => [name, port] as const));
    const hostPorts = published.map(([, port]) => port.published);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    expect(services['tollbooth-1']?.ports?.map((port) => [port.published, port.target])).toEqual([['8080', 8080]]);
    expect(services['tollbooth-2']?.ports?.map((port) => [port.published, port.target])).toEqual([['8090', 8080]]);
    for (const [name, port] of [['prometheus', 9090], ['alertmanager', 9093], ['grafana', 3000], ['jaeger', 16686]] as const) {
      expect(services[name]?.ports?.map((entry) => entry.target)).toContain(port);
    }
    for (const name of GATEWAYS) {
      const config = gatewayConfig(name);
      expect(config.server.port).toBe(8080);
      expect(published.some(([service, port]) => service === name && port.target === config.admin.port)).toBe(false);
    }
    for (const name of SIMULATORS) expect(services[name]?.ports ?? []).toEqual([]);
  });

  it('mounts only files that exist, read-only: the gateway config, deploy/prometheus, deploy/alertmanager and deploy/grafana', () => {
    const mounts = Object.values(services).flatMap((service) => service.volumes ?? []);
    expect(mounts.length).toBeGreaterThanOrEqual(5);
    for (const mount of mounts) {
      expect(mount.type).toBe('bind');
      expect(existsSync(mount.source), mount.source).toBe(true);
      expect(mount.read_only, mount.source).toBe(true);
    }
    expect(mountOf('prometheus', '/etc/prometheus').source).toBe(resolve('deploy/prometheus'));
    expect(services.prometheus?.command).toEqual(expect.arrayContaining(['--config.file=/etc/prometheus/prometheus.yaml', '--enable-feature=exemplar-storage']));
    expect(existsSync(resolve('deploy/prometheus/prometheus.yaml'))).toBe(true);
    expect(mountOf('alertmanager', '/etc/alertmanager').source).toBe(resolve('deploy/alertmanager'));
    expect(services.alertmanager?.command).toEqual(expect.arrayContaining(['--config.file=/etc/alertmanager/alertmanager.yaml']));
    expect(existsSync(resolve('deploy/alertmanager/alertmanager.yaml'))).toBe(true);
    expect(mountOf('grafana', '/etc/grafana/provisioning').source).toBe(resolve('deploy/grafana/provisioning'));
    expect(mountOf('grafana', GRAFANA_DASHBOARDS_PATH).source).toBe(resolve('deploy/grafana/dashboards'));
  });

  it('has Prometheus scrape both gateways on their admin listener and every replica, and alert through its Alertmanager', async () => {
    const scrapeFile = join(mountOf('prometheus', '/etc/prometheus').source, 'prometheus.yaml');
    const scrape = parse(readFileSync(scrapeFile, 'utf8')) as ReturnType<typeof prometheusConfig>;
    const targetsOf = (job: string) => scrape.scrape_configs.find((config) => config.job_name === job)?.static_configs.flatMap((config) => config.targets) ?? [];
    const gatewayTargets = targetsOf('tollbooth').map(serviceTarget);
    expect(gatewayTargets.map(([service]) => service).sort()).toEqual(GATEWAYS);
    for (const [service, port] of gatewayTargets) {
      const config = gatewayConfig(service);
      expect(config.admin.enabled).toBe(true);
      expect(config.admin.host).toBe('0.0.0.0');
      expect(port).toBe(config.admin.port);
    }
    const replicaTargets = targetsOf('vllm').map(serviceTarget);
    expect(replicaTargets.map(([service]) => service).sort()).toEqual(SIMULATORS);
    for (const [service, port] of replicaTargets) {
      const [, ...args] = services[service]?.command ?? [];
      expect(await simulatorOptionsFromArgs(args)).toMatchObject({ port });
    }
    expect(scrape.alerting.alertmanagers.flatMap((config) => config.static_configs.flatMap((entry) => entry.targets)).map(serviceTarget)).toEqual([['alertmanager', 9093]]);
    // Grafana's provisioned data sources point at the compose services too.
    const datasources = readFileSync(join(mountOf('grafana', '/etc/grafana/provisioning').source, 'datasources/tollbooth.yaml'), 'utf8');
    for (const url of ['http://prometheus:9090', 'http://jaeger:16686']) {
      expect(services).toHaveProperty(new URL(url).hostname);
      expect(datasources).toContain(url);
    }
  });

  it('starts the simulators with arguments `tollbooth sim` accepts, exporting spans to Jaeger', async () => {
    for (const name of SIMULATORS) {
      const [command, ...args] = services[name]?.command ?? [];
      expect(command).toBe('sim');
      expect(await simulatorOptionsFromArgs(args)).toMatchObject({ host: '0.0.0.0', port: 8000, otlpTracesEndpoint: 'http://jaeger:4318' });
    }
  });

  describe('healthchecks, run against the real processes', () => {
    let simulator: RunningSimulator;
    let gateway: TestGateway;
    beforeAll(async () => {
      simulator = await startSimulator({ models: ['llama-3.1-8b-instruct'] });
      gateway = await startTestGateway({ replicas: [{ name: 'vllm-a', url: simulator.url, models: ['llama-3.1-8b-instruct'] }] });
    });
    afterAll(async () => {
      await gateway?.close();
      await simulator?.close();
    });

    it("pass on a running simulator and gateway (the simulator's /health, the gateway's /ready), and fail where nothing listens", async () => {
      for (const name of SIMULATORS) expect(await runHealthcheck(name, simulator.port), name).toBe(0);
      const gatewayPort = Number(new URL(gateway.url).port);
      for (const name of GATEWAYS) {
        expect(services[name]?.healthcheck?.test.join(' ')).toContain(`:${gatewayConfig(name).server.port}/ready`);
        expect(await runHealthcheck(name, gatewayPort), name).toBe(0);
      }
      await simulator.close();
      expect(await runHealthcheck('vllm-a', simulator.port)).toBe(1);
    });
  });
});
