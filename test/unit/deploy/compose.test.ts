import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { loadConfig } from '../../../src/config/load.js';
import { DEFAULT_MONITORING_CONFIG } from '../../../src/monitoring/config.js';
import { GRAFANA_DASHBOARDS_PATH } from '../../../src/monitoring/grafana-provisioning.js';
import { PROMETHEUS_FILE, prometheusConfig } from '../../../src/monitoring/scrape-config.js';
import { simulatorOptionsFromArgs } from '../../../src/sim/cli.js';

/**
 * deploy/ cannot be brought up here (no Docker daemon in the test environment), so this checks
 * what can be checked without one: the compose file's wiring, and that the gateway config and
 * the simulator command lines it runs are valid for this version of Tollbooth.
 */
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, unknown>;
}

const DEPLOY = 'deploy';
const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;
const GATEWAYS = ['tollbooth-1', 'tollbooth-2'];

/** The gateway config a gateway service mounts, loaded as the gateway would. */
function gatewayConfig(name: string) {
  const mount = (services[name]?.volumes ?? []).map((volume) => volume.split(':')).find(([, target]) => target === '/etc/tollbooth/tollbooth.yaml');
  expect(mount, name).toBeDefined();
  return loadConfig({ file: join(DEPLOY, (mount as string[])[0] as string), env: {} });
}

/** `host:port` → [service, port]; the host must be a service of the compose file. */
function serviceTarget(target: string): [string, number] {
  const [host, port] = target.split(':');
  expect(services, target).toHaveProperty(host as string);
  return [host as string, Number(port)];
}

describe('deploy/compose.yaml', () => {
  it('runs two gateways, Redis, two simulated replicas, Prometheus, Alertmanager, Grafana and Jaeger, depending only on services it defines', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'grafana', 'jaeger', 'prometheus', 'redis', 'tollbooth-1', 'tollbooth-2', 'vllm-a', 'vllm-b']);
    for (const service of Object.values(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) expect(services).toHaveProperty(dependency);
    }
    expect(services.jaeger?.image).toMatch(/^jaegertracing\/jaeger:2\./);
    expect(services.jaeger?.ports).toEqual(expect.arrayContaining(['16686:16686', '4317:4317', '4318:4318']));
  });

  it('builds every Tollbooth service from deploy/Dockerfile', () => {
    for (const name of [...GATEWAYS, 'vllm-a', 'vllm-b']) {
      const build = services[name]?.build;
      expect(build?.dockerfile).toBe('deploy/Dockerfile');
      expect(existsSync(join(DEPLOY, build?.context ?? '', build?.dockerfile ?? ''))).toBe(true);
    }
  });

  it('gives both gateways a valid config file, the OTEL_* variables that point them at Jaeger and one Redis for their rate limits', () => {
    for (const name of GATEWAYS) {
      const gateway = services[name] as ComposeService;
      const config = gatewayConfig(name);
      expect(config.replicas.map((replica) => replica.url).sort()).toEqual(['http://vllm-a:8000', 'http://vllm-b:8000']);
      expect(config.rateLimits.store).toBe('redis');
      expect(config.redis.url).toBe('redis://redis:6379');
      expect(services.redis?.command).toEqual(expect.arrayContaining(['redis-server']));
      expect(gateway.command).toEqual(['start', '--config', '/etc/tollbooth/tollbooth.yaml']);
      expect(gateway.environment).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
      expect(Object.keys(gateway.depends_on ?? {})).toEqual(expect.arrayContaining(['redis', 'vllm-a', 'vllm-b']));
    }
  });

  it('publishes each API, Prometheus, Alertmanager, Grafana and Jaeger on its own host port, never an admin listener', () => {
    const published = Object.entries(services).flatMap(([name, service]) => (service.ports ?? []).map((port) => [name, port] as const));
    const hostPorts = published.map(([, port]) => port.split(':')[0]);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    expect(services['tollbooth-1']?.ports).toEqual(['8080:8080']);
    expect(services['tollbooth-2']?.ports).toEqual(['8090:8080']);
    expect(services.prometheus?.ports).toEqual(['9090:9090']);
    expect(services.alertmanager?.ports).toEqual(['9093:9093']);
    expect(services.grafana?.ports).toEqual(['3000:3000']);
    for (const name of GATEWAYS) {
      const config = gatewayConfig(name);
      expect(config.server.port).toBe(8080);
      expect(published.some(([service, port]) => service === name && port.endsWith(`:${config.admin.port}`))).toBe(false);
    }
  });

  it('mounts only paths that exist: the gateway config, deploy/prometheus, deploy/alertmanager and deploy/grafana', () => {
    const mounts = Object.values(services).flatMap((service) => (service.volumes ?? []).map((volume) => volume.split(':')));
    for (const [source] of mounts) expect(existsSync(join(DEPLOY, source as string)), source).toBe(true);
    const target = (name: string, path: string) => (services[name]?.volumes ?? []).find((volume) => volume.split(':')[1] === path)?.split(':')[0];
    expect(target('prometheus', '/etc/prometheus')).toBe('./prometheus');
    expect(services.prometheus?.command).toEqual(expect.arrayContaining(['--config.file=/etc/prometheus/prometheus.yaml', '--enable-feature=exemplar-storage']));
    expect(PROMETHEUS_FILE).toBe('deploy/prometheus/prometheus.yaml');
    expect(target('alertmanager', '/etc/alertmanager')).toBe('./alertmanager');
    expect(services.alertmanager?.command).toEqual(expect.arrayContaining(['--config.file=/etc/alertmanager/alertmanager.yaml']));
    expect(existsSync(join(DEPLOY, 'alertmanager/alertmanager.yaml'))).toBe(true);
    expect(target('grafana', '/etc/grafana/provisioning')).toBe('./grafana/provisioning');
    expect(target('grafana', GRAFANA_DASHBOARDS_PATH)).toBe('./grafana/dashboards');
  });

  it('scrapes what the compose file runs: each gateway on its admin listener (on 0.0.0.0), each simulator on its port, and alerts go to its Alertmanager', async () => {
    // The committed file is the generator's output (test/unit/deploy/monitoring.test.ts checks it is not stale).
    const scrape = parse(readFileSync(join(DEPLOY, 'prometheus/prometheus.yaml'), 'utf8')) as ReturnType<typeof prometheusConfig>;
    expect(scrape).toEqual(JSON.parse(JSON.stringify(prometheusConfig(DEFAULT_MONITORING_CONFIG))));
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
    expect(replicaTargets.map(([service]) => service).sort()).toEqual(['vllm-a', 'vllm-b']);
    for (const [service, port] of replicaTargets) {
      const [, ...args] = services[service]?.command ?? [];
      expect(await simulatorOptionsFromArgs(args)).toMatchObject({ port });
    }
    const alertmanagers = scrape.alerting.alertmanagers.flatMap((config) => config.static_configs.flatMap((static_) => static_.targets)).map(serviceTarget);
    expect(alertmanagers).toEqual([['alertmanager', 9093]]);
    // Grafana's provisioned data sources point at the compose services too.
    for (const url of [DEFAULT_MONITORING_CONFIG.grafana.prometheusUrl, DEFAULT_MONITORING_CONFIG.grafana.jaegerUrl]) {
      expect(services).toHaveProperty(new URL(url).hostname);
      expect(readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/tollbooth.yaml'), 'utf8')).toContain(url);
    }
  });

  it('starts the simulators with arguments `tollbooth sim` accepts, exporting spans to Jaeger', async () => {
    for (const name of ['vllm-a', 'vllm-b']) {
      const [command, ...args] = services[name]?.command ?? [];
      expect(command).toBe('sim');
      expect(await simulatorOptionsFromArgs(args)).toMatchObject({ host: '0.0.0.0', port: 8000, otlpTracesEndpoint: 'http://jaeger:4318' });
    }
  });
});
