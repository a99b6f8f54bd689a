import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { loadConfig } from '../../../src/config/load.js';
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

describe('deploy/compose.yaml', () => {
  it('runs the gateway, two simulated replicas and Jaeger, depending only on services it defines', () => {
    expect(Object.keys(services).sort()).toEqual(['jaeger', 'tollbooth', 'vllm-a', 'vllm-b']);
    for (const service of Object.values(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) expect(services).toHaveProperty(dependency);
    }
    expect(services.jaeger?.image).toMatch(/^jaegertracing\/jaeger:2\./);
    expect(services.jaeger?.ports).toEqual(expect.arrayContaining(['16686:16686', '4317:4317', '4318:4318']));
  });

  it('builds every Tollbooth service from deploy/Dockerfile', () => {
    for (const name of ['tollbooth', 'vllm-a', 'vllm-b']) {
      const build = services[name]?.build;
      expect(build?.dockerfile).toBe('deploy/Dockerfile');
      expect(existsSync(join(DEPLOY, build?.context ?? '', build?.dockerfile ?? ''))).toBe(true);
    }
  });

  it('gives the gateway a valid config file and the OTEL_* variables that point it at Jaeger', () => {
    const gateway = services.tollbooth as ComposeService;
    const mount = (gateway.volumes ?? []).map((volume) => volume.split(':')).find(([, target]) => target === '/etc/tollbooth/tollbooth.yaml');
    expect(mount).toBeDefined();
    const config = loadConfig({ file: join(DEPLOY, (mount as string[])[0] as string), env: {} });
    expect(config.replicas.map((replica) => replica.url).sort()).toEqual(['http://vllm-a:8000', 'http://vllm-b:8000']);
    expect(gateway.command).toEqual(['start', '--config', '/etc/tollbooth/tollbooth.yaml']);
    expect(gateway.environment).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
  });

  it('starts the simulators with arguments `tollbooth sim` accepts, exporting spans to Jaeger', async () => {
    for (const name of ['vllm-a', 'vllm-b']) {
      const [command, ...args] = services[name]?.command ?? [];
      expect(command).toBe('sim');
      expect(await simulatorOptionsFromArgs(args)).toMatchObject({ host: '0.0.0.0', port: 8000, otlpTracesEndpoint: 'http://jaeger:4318' });
    }
  });
});
