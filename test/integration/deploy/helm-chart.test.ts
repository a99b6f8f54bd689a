import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, stopCli, type CliProcess } from '../../helpers/cli.js';
import { installDeployTools, run, type DeployTools } from '../../helpers/deploy-tools.js';
import { freePorts } from '../../helpers/free-ports.js';
import { RULES_FILE } from '../../../src/monitoring/scrape-config.js';
import { DEFAULT_MONITORING_CONFIG } from '../../../src/monitoring/config.js';
import { DASHBOARDS_DIR } from '../../../src/monitoring/dashboards.js';

/**
 * The Helm chart (deploy/helm/tollbooth) and the example fleet (deploy/helm/examples), checked by
 * the real tools: helm v4 lints and renders every values file shipped, kubernetes-validate checks
 * every rendered object against the Kubernetes schemas of the two newest minor versions it ships,
 * the ServiceMonitor and PrometheusRule are checked against the prometheus-operator's published
 * CRD schemas, and the rendered configuration and probes are run against the built gateway.
 */

const CHART = 'deploy/helm/tollbooth';
const EXAMPLES = 'deploy/helm/examples';
const RELEASE = 'tollbooth';
const NAMESPACE = 'llm';

/** Every values file shipped: the chart's lint sets (ci/) and the example's. */
const VALUES_FILES = [
  ...readdirSync(join(CHART, 'ci'))
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => join(CHART, 'ci', name)),
  ...readdirSync(EXAMPLES)
    .filter((name) => name.endsWith('-values.yaml'))
    .map((name) => join(EXAMPLES, name)),
];
const FLEET_MANIFESTS = readdirSync(EXAMPLES)
  .filter((name) => name.endsWith('-fleet.yaml'))
  .map((name) => join(EXAMPLES, name));

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<
  string,
  any
>;

interface Rendered {
  readonly valuesFile: string;
  readonly manifest: string;
  readonly objects: readonly K8sObject[];
}

const CRD_KINDS = new Map([
  ['ServiceMonitor', 'monitoring.coreos.com_servicemonitors.yaml'],
  ['PrometheusRule', 'monitoring.coreos.com_prometheusrules.yaml'],
]);

let tools: DeployTools;
const rendered = new Map<string, Rendered>();
const scratch = mkdtempSync(join(tmpdir(), 'tollbooth-helm-'));

function parseObjects(manifest: string): K8sObject[] {
  return parseAllDocuments(manifest)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

async function helmTemplate(valuesFile: string, ...extra: string[]): Promise<{ code: number | null; manifest: string; stderr: string }> {
  const result = await run(tools.helm, ['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile, ...extra]);
  return { code: result.code, manifest: result.stdout, stderr: result.stderr };
}

function only(objects: readonly K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const found = objects.filter((object) => object.kind === kind && object.metadata.name.endsWith(nameSuffix));
  expect(found.map((object) => object.metadata.name), `one ${kind}${nameSuffix}`).toHaveLength(1);
  return found[0]!;
}

function tollboothConfigOf(objects: readonly K8sObject[]): Record<string, any> {
  return parse(only(objects, 'ConfigMap', RELEASE).data['tollbooth.yaml'] as string) as Record<string, any>;
}

function gatewayContainer(objects: readonly K8sObject[]): Record<string, any> {
  return only(objects, 'Deployment').spec.template.spec.containers.find((container: { name: string }) => container.name === 'tollbooth');
}

function containerPort(container: Record<string, any>, name: string): number | undefined {
  return (container.ports as Array<{ name: string; containerPort: number }>).find((port) => port.name === name)?.containerPort;
}

/** The two newest minor versions among those kubernetes-validate ships, e.g. ['1.37.0', '1.36.0']. */
function newestTwoMinors(): string[] {
  const byMinor = new Map<string, string>();
  for (const version of tools.kubernetesVersions) {
    const minor = version.split('.').slice(0, 2).join('.');
    if (!byMinor.has(minor)) byMinor.set(minor, version);
  }
  return [...byMinor.values()].slice(0, 2);
}

/**
 * A CRD's openAPIV3Schema as ajv checks it. The API server prunes unknown fields of structural
 * schemas; `kubectl apply --validate=strict` refuses them, and so does this: every object schema
 * that lists its properties and does not preserve unknown fields gets additionalProperties: false.
 */
function strictCrdSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictCrdSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([name, sub]) => [name, strictCrdSchema(sub)])) : strictCrdSchema(value);
  if (copy.properties !== undefined && copy.additionalProperties === undefined && copy['x-kubernetes-preserve-unknown-fields'] !== true) copy.additionalProperties = false;
  return copy;
}

/**
 * The API server evaluates `pattern` with Go's regexp (RE2): its inline case-insensitive flag
 * `(?i)` becomes JavaScript's `i` flag; any other syntax JavaScript lacks throws, and the test fails.
 */
const goRegExp = Object.assign(
  (pattern: string, flags: string): RegExp => {
    const inline = /^(\^?)\(\?i\)/.exec(pattern);
    return inline === null ? new RegExp(pattern, flags) : new RegExp(inline[1]! + pattern.slice(inline[0].length), `${flags}i`);
  },
  { code: 'goRegExp' },
);

function crdValidator(kind: string): ValidateFunction {
  const crd = parse(readFileSync(join(tools.prometheusOperatorCrdDir, CRD_KINDS.get(kind)!), 'utf8')) as {
    spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: unknown } }> };
  };
  const v1 = crd.spec.versions.find((version) => version.name === 'v1')!;
  // Kubernetes' own keywords (x-kubernetes-*) and formats (int32, int-or-string…) are not JSON Schema's.
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true, code: { regExp: goRegExp } });
  return ajv.compile(strictCrdSchema(v1.schema.openAPIV3Schema) as object);
}

beforeAll(async () => {
  // The first run builds helm from the Go module proxy (minutes on two cores; `npm test` starts that
  // build beside the main suite, so it is usually done by now); later runs reuse the cached binary.
  tools = await installDeployTools();
  await Promise.all(
    VALUES_FILES.map(async (valuesFile) => {
      const { code, manifest, stderr } = await helmTemplate(valuesFile);
      if (code !== 0) throw new Error(`helm template -f ${valuesFile} failed:\n${stderr}`);
      rendered.set(valuesFile, { valuesFile, manifest, objects: parseObjects(manifest) });
    }),
  );
}, 20 * 60_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.each(VALUES_FILES)('the chart with %s', (valuesFile) => {
  const objects = () => rendered.get(valuesFile)!.objects;

  it('passes helm lint --strict', async () => {
    const result = await run(tools.helm, ['lint', '--strict', CHART, '-f', valuesFile]);
    expect(result.stdout + result.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('renders only objects valid for the two newest Kubernetes minor versions (kubernetes-validate --strict)', async () => {
    const versions = newestTwoMinors();
    expect(versions).toHaveLength(2);
    const file = join(scratch, `${valuesFile.replaceAll('/', '_')}.yaml`);
    writeFileSync(file, rendered.get(valuesFile)!.manifest);
    const builtIn = objects().filter((object) => !CRD_KINDS.has(object.kind));
    for (const version of versions) {
      const result = await run(tools.kubernetesValidate, ['--strict', '--kubernetes-version', version, file]);
      expect(result.code, `${version}:\n${result.stdout}${result.stderr}`).toBe(0);
      expect(result.stdout).not.toContain('ERROR');
      // Every built-in object was checked, not skipped for want of a schema.
      for (const object of builtIn) {
        expect(result.stdout, `${object.kind}/${object.metadata.name} on ${version}`).toContain(
          `passed for resource ${object.kind.toLowerCase()}/${object.metadata.name} against version ${version.split('.').slice(0, 2).join('.')}`,
        );
      }
      // kubernetes-validate has no schema for the Prometheus Operator's kinds: they are checked below.
      for (const line of result.stdout.split('\n').filter((text) => text.startsWith('WARN'))) {
        expect(line).toMatch(/Couldn't find schema for kind (ServiceMonitor|PrometheusRule) with api version monitoring\.coreos\.com\/v1/);
      }
    }
  });

  it('renders ServiceMonitor and PrometheusRule objects valid against the prometheus-operator CRD schemas', () => {
    for (const object of objects().filter((candidate) => CRD_KINDS.has(candidate.kind))) {
      expect(object.apiVersion).toBe('monitoring.coreos.com/v1');
      const validate = crdValidator(object.kind);
      expect(validate(object), `${object.kind}: ${JSON.stringify(validate.errors, null, 2)}`).toBe(true);
      // The same schema refuses a misspelt field, so the check above can fail.
      const misspelt = structuredClone(object);
      misspelt.spec.unknownField = true;
      expect(validate(misspelt)).toBe(false);
    }
  });

  it('writes a Tollbooth configuration that `tollbooth check-config` accepts', async () => {
    const file = join(scratch, `config-${valuesFile.replaceAll('/', '_')}.yaml`);
    writeFileSync(file, only(objects(), 'ConfigMap', RELEASE).data['tollbooth.yaml'] as string);
    const checked = runCli(['check-config', '--config', file]);
    const exit = await checked.exited();
    expect(checked.stdout(), checked.stderr()).toMatch(/^configuration is valid/);
    expect(exit.code, checked.stderr()).toBe(0);
  });

  it('runs the gateway non-root on a read-only root filesystem with no capabilities, bounded resources and spread pods', () => {
    const deployment = only(objects(), 'Deployment');
    const pod = deployment.spec.template.spec;
    const container = gatewayContainer(objects());
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    for (const bound of ['requests', 'limits']) expect(Object.keys(container.resources[bound]).sort()).toEqual(['cpu', 'memory']);
    expect(pod.topologySpreadConstraints.length).toBeGreaterThan(0);
    for (const spread of pod.topologySpreadConstraints) expect(spread.labelSelector.matchLabels['app.kubernetes.io/name']).toBe('tollbooth');
    // The probes tolerate a slow start and check the API port.
    expect(container.startupProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(containerPort(container, 'http')).toBe(tollboothConfigOf(objects()).server.port);
  });

  it('gives a terminating pod longer than its preStop sleep plus the drain timeout', () => {
    const pod = only(objects(), 'Deployment').spec.template.spec;
    const preStop = gatewayContainer(objects()).lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    const preStopSeconds = Number(preStop[1]);
    expect(preStopSeconds).toBeGreaterThan(0);
    const drainTimeoutMs = (tollboothConfigOf(objects()).server?.drainTimeoutMs as number | undefined) ?? 30_000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + drainTimeoutMs / 1000);
  });

  it('scrapes the admin port the configuration sets, and listens on it beyond loopback', () => {
    const config = tollboothConfigOf(objects());
    const container = gatewayContainer(objects());
    if (config.admin?.enabled === false) {
      expect(containerPort(container, 'metrics')).toBeUndefined();
      expect(objects().filter((object) => object.kind === 'ServiceMonitor' || object.metadata.name.endsWith('-metrics'))).toEqual([]);
      return;
    }
    expect(config.admin.host).toBe('0.0.0.0');
    expect(containerPort(container, 'metrics')).toBe(config.admin.port);
    const metricsService = only(objects(), 'Service', '-metrics');
    expect(metricsService.spec.ports).toEqual([{ name: 'metrics', port: config.admin.port, targetPort: 'metrics', protocol: 'TCP' }]);
    // The API Service never exposes the admin port.
    expect(only(objects(), 'Service', RELEASE).spec.ports.map((port: { targetPort: string }) => port.targetPort)).toEqual(['http']);
    for (const monitor of objects().filter((object) => object.kind === 'ServiceMonitor')) {
      expect(monitor.spec.endpoints).toMatchObject([{ port: 'metrics', path: '/metrics' }]);
      // The series carry the job the rules and dashboards select.
      expect(monitor.spec.endpoints[0].relabelings).toContainEqual({ targetLabel: 'job', replacement: DEFAULT_MONITORING_CONFIG.tollbooth.job });
      for (const [label, value] of Object.entries(monitor.spec.selector.matchLabels as Record<string, string>)) expect(metricsService.metadata.labels?.[label]).toBe(value);
    }
    for (const policy of objects().filter((object) => object.kind === 'NetworkPolicy')) {
      const metricsRule = policy.spec.ingress.find((rule: { ports: Array<{ port: string }> }) => rule.ports[0]!.port === 'metrics');
      expect(metricsRule.from.length, 'the admin port is not open to everyone').toBeGreaterThan(0);
    }
  });

  it('renders API keys into a Secret only when asked (apiKeys.keys without existingSecret), and never a key itself', () => {
    const values = parse(readFileSync(valuesFile, 'utf8')) as { apiKeys?: { enabled?: boolean; existingSecret?: string; keys?: unknown[] } } | null;
    const secrets = objects().filter((object) => object.kind === 'Secret');
    const asked = values?.apiKeys?.existingSecret === '' && (values.apiKeys.keys?.length ?? 0) > 0 && values.apiKeys.enabled !== false;
    expect(secrets.length).toBe(asked ? 1 : 0);
    // Issued keys look like sk-tb-…; only their SHA-256 may ever be rendered.
    expect(rendered.get(valuesFile)!.manifest).not.toMatch(/sk-tb-/);
    for (const secret of secrets) {
      const entries = parse(secret.stringData['keys.yaml'] as string) as Array<{ hash: string }>;
      for (const entry of entries) expect(entry.hash).toMatch(/^(sha256:)?[0-9a-f]{64}$/);
    }
    const keysVolume = only(objects(), 'Deployment').spec.template.spec.volumes.find((volume: { name: string }) => volume.name === 'keys');
    if (values?.apiKeys?.enabled === false) expect(keysVolume).toBeUndefined();
    else expect(tollboothConfigOf(objects()).auth.keysFile).toBe('/etc/tollbooth/keys/keys.yaml');
  });

  it('passes a Redis URL from a Secret as TOLLBOOTH_REDIS_URL, never through the ConfigMap', () => {
    const values = parse(readFileSync(valuesFile, 'utf8')) as { redis?: { existingSecret?: string; secretKey?: string } } | null;
    const redisEnv = (gatewayContainer(objects()).env as Array<{ name: string; valueFrom?: unknown }> | undefined)?.find((variable) => variable.name === 'TOLLBOOTH_REDIS_URL');
    if ((values?.redis?.existingSecret ?? '') === '') {
      expect(redisEnv).toBeUndefined();
      return;
    }
    expect(redisEnv).toEqual({ name: 'TOLLBOOTH_REDIS_URL', valueFrom: { secretKeyRef: { name: values!.redis!.existingSecret, key: values!.redis!.secretKey ?? 'url' } } });
    expect(tollboothConfigOf(objects()).redis?.url).toBeUndefined();
  });

  it('ships the same rule groups and dashboards as deploy/prometheus and deploy/grafana', () => {
    for (const rule of objects().filter((object) => object.kind === 'PrometheusRule')) {
      expect(rule.spec).toEqual({ groups: (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: unknown }).groups });
    }
    const dashboards = objects().filter((object) => object.kind === 'ConfigMap' && object.metadata.labels?.grafana_dashboard === '1');
    for (const configMap of dashboards) {
      const [[name, json]] = Object.entries(configMap.data as Record<string, string>) as [[string, string]];
      expect(JSON.parse(json)).toEqual(JSON.parse(readFileSync(join(DASHBOARDS_DIR, name), 'utf8')));
    }
    if (dashboards.length > 0) expect(dashboards.map((configMap) => Object.keys(configMap.data)[0]).sort()).toEqual(readdirSync(DASHBOARDS_DIR).sort());
  });
});

describe('the chart', () => {
  it('refuses values outside its schema, in the chart keys and in the Tollbooth configuration', async () => {
    const typoInConfig = await helmTemplate(join(CHART, 'ci/default-values.yaml'), '--set', 'config.server.drainTimeoutSeconds=30');
    expect(typoInConfig.code).not.toBe(0);
    expect(typoInConfig.stderr).toMatch(/config\/server.*drainTimeoutSeconds/);
    const typoInChart = await helmTemplate(join(CHART, 'ci/default-values.yaml'), '--set', 'replicaCont=3');
    expect(typoInChart.code).not.toBe(0);
    expect(typoInChart.stderr).toContain('replicaCont');
    const wrongType = await helmTemplate(join(CHART, 'ci/default-values.yaml'), '--set', 'config.admin.port=eighty');
    expect(wrongType.code).not.toBe(0);
    // The keys file's entries follow the key store's own schema.
    const badKey = await helmTemplate(join(CHART, 'ci/everything-values.yaml'), '--set', 'apiKeys.keys[0].hash=not-a-sha256');
    expect(badKey.code).not.toBe(0);
    expect(badKey.stderr).toContain('/apiKeys/keys/0/hash');
  });

  it('renders no inline keys from the defaults, and fails rather than render an empty keys Secret', async () => {
    const defaults = parseObjects((await helmTemplate(join(CHART, 'ci/default-values.yaml'))).manifest);
    expect(defaults.filter((object) => object.kind === 'Secret')).toEqual([]);
    const noKeys = await helmTemplate(join(CHART, 'ci/default-values.yaml'), '--set', 'apiKeys.existingSecret=');
    expect(noKeys.code).not.toBe(0);
    expect(noKeys.stderr).toContain('apiKeys.enabled needs apiKeys.existingSecret');
  });

  it('has a helm test hook that checks /ready on the API Service and the metrics on the admin port', () => {
    const objects = rendered.get(join(CHART, 'ci/default-values.yaml'))!.objects;
    const testPod = objects.find((object) => object.kind === 'Pod' && object.metadata.annotations?.['helm.sh/hook'] === 'test')!;
    const script = (testPod.spec.containers[0].args as string[]).join(' ');
    const config = tollboothConfigOf(objects);
    expect(script).toContain(`http://${RELEASE}:${only(objects, 'Service', RELEASE).spec.ports[0].port}/ready`);
    expect(script).toContain(`http://${RELEASE}-metrics:${config.admin.port}/metrics`);
    // The test pod is no endpoint of the gateway's Services.
    const selector = only(objects, 'Service', RELEASE).spec.selector as Record<string, string>;
    expect(Object.entries(selector).every(([key, value]) => testPod.metadata.labels?.[key] === value)).toBe(false);
  });

  it('autoscales on CPU and on the custom metrics the README\'s prometheus-adapter rule serves', () => {
    const hpa = only(rendered.get(join(CHART, 'ci/everything-values.yaml'))!.objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: RELEASE });
    const podMetrics = hpa.spec.metrics.filter((metric: { type: string }) => metric.type === 'Pods').map((metric: { pods: { metric: { name: string } } }) => metric.pods.metric.name);
    expect(hpa.spec.metrics.some((metric: { type: string; resource?: { name: string } }) => metric.type === 'Resource' && metric.resource?.name === 'cpu')).toBe(true);
    const adapterRules = adapterRulesOfReadme();
    expect(podMetrics.sort()).toEqual(adapterRules.map((rule) => rule.name.as).sort());
    for (const rule of adapterRules) expect(rule.metricsQuery).toContain('<<.Series>>');
  });
});

interface AdapterRule {
  seriesQuery: string;
  name: { matches: string; as: string };
  metricsQuery: string;
}

/** The prometheus-adapter rules of the chart README's "Autoscaling" section (the yaml block with `rules:`). */
function adapterRulesOfReadme(): AdapterRule[] {
  const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).find((text) => /^rules:/m.test(text));
  expect(block, 'a ```yaml block with the prometheus-adapter rules').toBeDefined();
  return (parse(block!) as { rules: { custom: AdapterRule[] } }).rules.custom;
}

describe('the chart against the real gateway and the example fleet', () => {
  let sim: CliProcess | undefined;
  let gateway: CliProcess | undefined;

  afterAll(async () => {
    await stopCli(gateway);
    await stopCli(sim);
  });

  it('validates the example fleets for the two newest Kubernetes minor versions', async () => {
    for (const version of newestTwoMinors()) {
      const result = await run(tools.kubernetesValidate, ['--strict', '--kubernetes-version', version, ...FLEET_MANIFESTS]);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      for (const manifest of FLEET_MANIFESTS) {
        expect(result.stdout).toContain(`${manifest} passed for resource deployment/vllm`);
        expect(result.stdout).toContain(`${manifest} passed for resource service/vllm-headless`);
      }
    }
  });

  it('scrapes the example fleet as the job the rules and dashboards select, valid against the ServiceMonitor CRD', () => {
    const [monitor] = parseObjects(readFileSync(join(EXAMPLES, 'vllm-servicemonitor.yaml'), 'utf8'));
    const validate = crdValidator('ServiceMonitor');
    expect(validate(monitor), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(monitor!.spec.endpoints[0].relabelings).toContainEqual({ targetLabel: 'job', replacement: DEFAULT_MONITORING_CONFIG.vllm.job });
    for (const manifest of FLEET_MANIFESTS) {
      const [service, deployment] = parseObjects(readFileSync(manifest, 'utf8'));
      expect(service!.metadata.labels).toMatchObject(monitor!.spec.selector.matchLabels);
      expect(service!.spec.ports.map((port: { name: string }) => port.name)).toContain(monitor!.spec.endpoints[0].port);
      expect(deployment!.spec.template.spec.containers[0].ports[0].name).toBe(service!.spec.ports[0].targetPort);
    }
  });

  it('gives vLLM GPUs, a startup probe for the model load and a trace endpoint, behind the headless Service the values discover', () => {
    const [service, deployment] = parseObjects(readFileSync(join(EXAMPLES, 'vllm-fleet.yaml'), 'utf8'));
    const container = deployment!.spec.template.spec.containers[0];
    expect(container.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(600);
    expect(container.args.some((arg: string) => arg.startsWith('--otlp-traces-endpoint='))).toBe(true);
    const discovery = tollboothConfigOf(rendered.get(join(EXAMPLES, 'tollbooth-values.yaml'))!.objects).discovery[0];
    for (const manifest of FLEET_MANIFESTS) {
      const [headless] = parseObjects(readFileSync(manifest, 'utf8'));
      expect(headless!.spec.clusterIP).toBe('None');
      expect(headless!.metadata.name).toBe(discovery.dns);
      expect(headless!.spec.ports[0].port).toBe(discovery.port);
    }
    expect(service!.spec.selector).toEqual(deployment!.spec.template.metadata.labels);
  });

  it('serves the probe and metrics paths the chart renders, with the rendered config, DNS discovery and the simulator fleet', async () => {
    // The simulator exactly as sim-fleet.yaml runs it, on a free port instead of the pod's 8000.
    const [, simDeployment] = parseObjects(readFileSync(join(EXAMPLES, 'sim-fleet.yaml'), 'utf8'));
    const simContainer = simDeployment!.spec.template.spec.containers[0];
    const [simPort, apiPort, adminPort] = await freePorts(3);
    const simArgs = (simContainer.args as string[])
      .map((arg) => (arg.startsWith('--port=') ? `--port=${simPort}` : arg.startsWith('--host=') ? '--host=127.0.0.1' : arg))
      .filter((arg) => !arg.startsWith('--otlp-traces-endpoint='));
    sim = runCli(simArgs);
    await sim.waitForLine(/listening/, 30_000);
    expect((await fetch(`http://127.0.0.1:${simPort}${simContainer.readinessProbe.httpGet.path}`)).status).toBe(200);

    // The gateway with the ConfigMap the example values render: only the addresses are this machine's
    // (discovery still resolves a name: localhost, as a pod resolves the headless Service).
    const objects = rendered.get(join(EXAMPLES, 'tollbooth-values.yaml'))!.objects;
    const config = tollboothConfigOf(objects);
    const keysFile = join(scratch, 'keys.yaml');
    writeFileSync(keysFile, stringify([{ id: 'probe-test', hash: 'a'.repeat(64) }]));
    const local = {
      ...config,
      server: { ...config.server, host: '127.0.0.1', port: apiPort },
      admin: { ...config.admin, host: '127.0.0.1', port: adminPort },
      discovery: [{ ...config.discovery[0], dns: 'localhost', family: 4, port: simPort }],
      auth: { ...config.auth, keysFile },
    };
    const configFile = join(scratch, 'gateway.yaml');
    writeFileSync(configFile, stringify(local));
    gateway = runCli(['start', '--config', configFile]);
    await gateway.waitForLine(/tollbooth is listening/, 30_000);

    // The kubelet's probes carry no API key: they must answer without one.
    const container = gatewayContainer(objects);
    const api = `http://127.0.0.1:${apiPort}`;
    expect((await fetch(`${api}${container.startupProbe.httpGet.path}`)).status).toBe(200);
    expect((await fetch(`${api}${container.livenessProbe.httpGet.path}`)).status).toBe(200);
    const readinessPath = container.readinessProbe.httpGet.path as string;
    const deadline = Date.now() + 30_000;
    let ready = await fetch(`${api}${readinessPath}`);
    while (ready.status !== 200 && Date.now() < deadline) {
      await new Promise((wake) => setTimeout(wake, 200));
      ready = await fetch(`${api}${readinessPath}`);
    }
    expect(ready.status, await ready.text()).toBe(200);
    // And the API itself needs a key.
    expect((await fetch(`${api}/v1/models`)).status).toBe(401);

    const monitor = only(objects, 'ServiceMonitor');
    const metrics = await fetch(`http://127.0.0.1:${adminPort}${monitor.spec.endpoints[0].path}`);
    expect(metrics.status).toBe(200);
    const exposition = await metrics.text();
    expect(exposition).toMatch(/^tollbooth_build_info\{/m);
    // The series the prometheus-adapter rules read exist on that port.
    for (const rule of adapterRulesOfReadme()) expect(exposition).toContain(`${/^[a-z_]+/.exec(rule.seriesQuery)![0]}{`);
  });
});

/** Values whose contents are Kubernetes or Tollbooth objects documented as a whole (or by their own docs). */
const DOCUMENTED_WHOLE = new Set(['config', 'resources.requests', 'resources.limits', 'podSecurityContext', 'securityContext', 'grafanaDashboards.labels']);

function valuePaths(values: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(values).flatMap(([key, value]) => {
    const path = `${prefix}${key}`;
    const nested = value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0 && !DOCUMENTED_WHOLE.has(path);
    return nested ? valuePaths(value as Record<string, unknown>, `${path}.`) : [path];
  });
}

describe("the chart's documentation", () => {
  it('has every value of values.yaml in the README values table', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Values'));
    const missing = valuePaths(parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>).filter((path) => !table.includes(`\`${path}\``));
    expect(missing).toEqual([]);
  });
});
