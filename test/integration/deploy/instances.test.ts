import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import { runCli, type CliProcess } from '../../helpers/cli.js';
import { ClientLoadBalancer, type Backend } from '../../helpers/client-load-balancer.js';
import { installHelm, run } from '../../helpers/deploy-tools.js';
import { startDnsServer, type DnsServer } from '../../helpers/dns-server.js';
import { freePort } from '../../helpers/free-ports.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

/**
 * Three gateway processes (the built CLI) as Kubernetes runs them from the Helm chart: `helm
 * template` of deploy/helm/tollbooth with this test's values (3 replicas, DNS discovery of the
 * example fleet's headless Service, rate limits in Redis through a Secret-held URL, the keys file
 * rendered into the chart's Secret), and each process given what a pod of the rendered Deployment
 * is given: its args, its env (Secret references resolved), and its volumes (the ConfigMap and the
 * keys Secret written as files under a local root). Only what a pod provides and this machine
 * cannot is mapped, and the first test checks that nothing else moved:
 *  - the listen addresses: 127.0.0.1 and kernel-chosen ports (TOLLBOOTH_HOST, TOLLBOOTH_PORT,
 *    TOLLBOOTH_ADMIN_HOST, TOLLBOOTH_ADMIN_PORT in the env), where a pod listens on 0.0.0.0 at
 *    the chart's fixed ports in its own network namespace;
 *  - the mounted files' paths: /etc/tollbooth/... becomes the same path under the local root, in
 *    the args and in auth.keysFile (the only path the rendered configuration holds);
 *  - the Secret the operator makes before the install (redis.existingSecret): its URL is the test's
 *    redis-server, reaching the gateway as TOLLBOOTH_REDIS_URL as in the pod.
 * The DNS server needs no mapping: a pod asks cluster DNS through its resolv.conf, and a test
 * cannot point this machine's resolver at a stand-in, but the chart passes `config` through
 * whole, so the values name the stand-in DNS server (test/helpers/dns-server.ts) in the discovery
 * entry's `servers` and the rendered ConfigMap carries it. That server answers the headless Service's name
 * with three simulators on one port at 127.0.0.1, .2 and .3, as a headless Service answers with its
 * ready pods. Clients reach the gateways through a load balancer modelled in the client
 * (test/helpers/client-load-balancer.ts): round robin over the ready instances, a request sent
 * again elsewhere when it failed before any response header (connection refused or dropped, 503
 * shutting_down).
 *
 * Under steady load (streams and non-streams through the official SDK, each with a session key),
 * one instance is SIGKILLed, then the other two are rolled one at a time, three times: SIGTERM
 * (the load balancer drops the instance a moment later, as endpoints lag a pod's termination),
 * drain, exit, start again, back into rotation once /ready answers 200.
 *
 * What is counted, per request, by what the client saw:
 *  - failed: the SDK raised before the response began (no headers, after the load balancer's
 *    retries) or the response was not a 200. Must be 0 throughout, the kill included.
 *  - cut: a stream whose headers arrived but which ended without a finish_reason, or raised while
 *    being read. Allowed only for streams the SIGKILLed process was relaying when it died; any
 *    other (one cut by a rolling restart) fails the test. The number cut by the kill is reported.
 *  - the rate-limited key (20 requests, refilling one per 1,000 minutes), sent throughout the
 *    rolling restarts: exactly 20 admitted across the instances, every other answer a 429.
 *  - sessions: every response names its replica (x-tollbooth-replica) and each simulator keeps
 *    its own record of the request ids it served: each session was served by one replica only,
 *    from every instance that served it.
 * Nothing here is timed: the phases advance on counts of completed requests.
 */
type K8sObject = { kind: string; metadata: { name: string } } & Record<string, any>;

const CHART = 'deploy/helm/tollbooth';
const RELEASE = 'tollbooth';
const NAMESPACE = 'llm';
const MODEL = 'llama-3.1-8b-instruct';
/** The example fleet's headless Service (deploy/helm/examples/sim-fleet.yaml), by its name in the cluster. */
const SERVICE = `${headlessServiceOf('deploy/helm/examples/sim-fleet.yaml').metadata.name}.${NAMESPACE}.svc.cluster.local`;
/** The Secret holding the Redis URL that the operator makes before the install (the chart's redis.existingSecret). */
const REDIS_SECRET = { name: 'tollbooth-redis', key: 'url' };
/** What this machine gives a gateway in place of the pod's own network namespace (see the header). */
const LISTEN_ON_THIS_MACHINE = { TOLLBOOTH_HOST: '127.0.0.1', TOLLBOOTH_PORT: '0', TOLLBOOTH_ADMIN_HOST: '127.0.0.1', TOLLBOOTH_ADMIN_PORT: '0' };
/** The configuration paths that mapping changes: the listen addresses, the keys file's path, the Redis URL. */
const MAPPED_PATHS = ['admin.host', 'admin.port', 'auth.keysFile', 'redis.url', 'server.host', 'server.port'];
const REPLICA_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const INSTANCES = 3;
const ROLLING_ROUNDS = 3;
const LOAD_LOOPS = 6;
const SESSIONS = 12;
const OUTPUT_TOKENS = 20;
const LIMITED_BURST = 20;
/** Far longer than any request here (each takes well under a second): a rolling restart never reaches it. */
const DRAIN_TIMEOUT_MS = 20_000;
/** A loaded machine can take seconds to start a Node process; nothing is asserted about it. */
const START_TIMEOUT_MS = 60_000;

/** A gateway container of the rendered Deployment, as this machine runs it. */
interface Pod {
  /** The Deployment's replica count: how many gateways run. */
  readonly replicas: number;
  /** The container's args, the paths in them moved under the local root. */
  readonly args: readonly string[];
  /** The container's env (Secret references resolved) and LISTEN_ON_THIS_MACHINE. */
  readonly env: Readonly<Record<string, string>>;
  /** The configuration the ConfigMap renders, as the schema reads it. */
  readonly renderedConfig: ReturnType<typeof parseConfig>;
  /** The path of the configuration file on this machine. */
  readonly configFile: string;
  /** Where the pod's filesystem paths lie on this machine: /etc/tollbooth/x is `root`/etc/tollbooth/x. */
  readonly root: string;
}

interface Instance {
  readonly slot: number;
  readonly backend: Backend;
  readonly cli: CliProcess;
}

interface Outcome {
  readonly requestId: string;
  readonly session: string;
  readonly stream: boolean;
  readonly replica: string | null;
  readonly backend: string | undefined;
  /** 'ok', 'failed' (before the response began, or not a 200) or 'cut' (a stream broken after its headers). */
  readonly result: 'ok' | 'failed' | 'cut';
  readonly detail: string;
}

let redis: RedisServer;
let dns: DnsServer;
const simulators: RunningSimulator[] = [];
let pod: Pod;
let scratch: string;
let loadKey: string;
let limitedKey: string;
const balancer = new ClientLoadBalancer();
const running: Instance[] = [];
const starts = new Map<number, number>();

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
}

/** Starts the gateway in `slot` as a pod of the rendered Deployment, in rotation once /ready says 200. */
async function startInstance(slot: number): Promise<Instance> {
  const generation = (starts.get(slot) ?? 0) + 1;
  starts.set(slot, generation);
  const cli = runCli([...pod.args], pod.env);
  let url: string;
  try {
    url = (JSON.parse(await cli.waitForLine(/tollbooth is listening/, START_TIMEOUT_MS)) as { url: string }).url;
    await until(async () => (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200, `gw${slot} to be ready`);
  } catch (error) {
    cli.child.kill('SIGKILL');
    throw error;
  }
  const instance = { slot, backend: { id: `gw${slot}#${generation}`, origin: url }, cli };
  running.push(instance);
  balancer.add(instance.backend);
  return instance;
}

function forget(instance: Instance): void {
  running.splice(running.indexOf(instance), 1);
}

function parseObjects(manifest: string): K8sObject[] {
  return parseAllDocuments(manifest)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

function headlessServiceOf(manifestFile: string): K8sObject {
  const service = parseObjects(readFileSync(manifestFile, 'utf8')).find((object) => object.kind === 'Service' && object.spec.clusterIP === 'None');
  if (service === undefined) throw new Error(`${manifestFile} has no headless Service`);
  return service;
}

/**
 * A gateway pod of the rendered Deployment, on this machine: its volumes (the manifest's ConfigMaps
 * and Secrets, empty dirs) written under `root` at their mount paths, its args and auth.keysFile
 * pointed there, its env with each Secret reference read from `secrets` (the Secrets made outside
 * the chart), and LISTEN_ON_THIS_MACHINE. A pod inherits no environment from its node, so this
 * machine's own TOLLBOOTH_* variables are blanked (an empty override is ignored).
 */
function podOnThisMachine(objects: readonly K8sObject[], root: string, secrets: Readonly<Record<string, Readonly<Record<string, string>>>>): Pod {
  const named = (kind: string, name: string): K8sObject => {
    const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
    if (found === undefined) throw new Error(`the manifest has no ${kind} ${name}`);
    return found;
  };
  const deployment = named('Deployment', RELEASE);
  const spec = deployment.spec.template.spec;
  const container = spec.containers.find((candidate: { name: string }) => candidate.name === 'tollbooth');
  const mounts = container.volumeMounts as Array<{ name: string; mountPath: string }>;
  for (const mount of mounts) {
    const volume = spec.volumes.find((candidate: { name: string }) => candidate.name === mount.name);
    let files: Record<string, string>;
    if (volume.configMap !== undefined) files = named('ConfigMap', volume.configMap.name).data;
    else if (volume.secret !== undefined) files = secretFiles(named('Secret', volume.secret.secretName));
    else if (volume.emptyDir !== undefined) files = {};
    else throw new Error(`volume ${mount.name}: only ConfigMap, Secret and emptyDir volumes are laid out here`);
    mkdirSync(join(root, mount.mountPath), { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(root, mount.mountPath, file), text);
  }
  const onThisMachine = (podPath: string): string => {
    if (!mounts.some((mount) => podPath.startsWith(`${mount.mountPath}/`))) throw new Error(`${podPath} is in none of the pod's volumes`);
    return join(root, podPath);
  };
  const args = (container.args as string[]).map((arg) => (arg.startsWith('/') ? onThisMachine(arg) : arg));
  const configFile = args[args.indexOf('--config') + 1]!;
  const renderedText = readFileSync(configFile, 'utf8');
  const config = parse(renderedText) as { auth?: { keysFile?: string } };
  if (config.auth?.keysFile !== undefined) config.auth.keysFile = onThisMachine(config.auth.keysFile);
  writeFileSync(configFile, stringify(config));

  const podEnv: Record<string, string> = {};
  for (const variable of (container.env ?? []) as Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>) {
    const reference = variable.valueFrom?.secretKeyRef;
    const value = variable.value ?? (reference === undefined ? undefined : secrets[reference.name]?.[reference.key]);
    if (value === undefined) throw new Error(`env ${variable.name}: no value, and no Secret given for ${JSON.stringify(variable.valueFrom)}`);
    if (variable.name in LISTEN_ON_THIS_MACHINE) throw new Error(`the chart sets ${variable.name} itself: mapping the listen address would hide it`);
    podEnv[variable.name] = value;
  }
  const hostOverrides = Object.fromEntries(Object.keys(process.env).filter((name) => name.startsWith('TOLLBOOTH_')).map((name) => [name, '']));
  return {
    replicas: deployment.spec.replicas as number,
    args,
    env: { ...hostOverrides, ...podEnv, ...LISTEN_ON_THIS_MACHINE },
    renderedConfig: parseConfig(parse(renderedText), 'the rendered ConfigMap'),
    configFile,
    root,
  };
}

/** A Secret's entries as the files its volume holds (stringData as written, data base64-decoded). */
function secretFiles(secret: K8sObject): Record<string, string> {
  const decoded = Object.entries((secret.data ?? {}) as Record<string, string>).map(([key, base64]) => [key, Buffer.from(base64, 'base64').toString('utf8')]);
  return { ...Object.fromEntries(decoded), ...(secret.stringData as Record<string, string> | undefined) };
}

/** The dotted paths of the leaves where `a` and `b` differ (array items by index). */
function differingPaths(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((key) =>
      differingPaths((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`),
    );
  }
  return isDeepStrictEqual(a, b) ? [] : [path];
}

beforeAll(async () => {
  redis = await startRedisServer();
  dns = await startDnsServer();
  dns.setAddresses(SERVICE, REPLICA_ADDRESSES);
  const simulatorOptions = { models: [MODEL], interTokenMs: 25, outputTokens: { min: OUTPUT_TOKENS, max: OUTPUT_TOKENS }, seed: 11 };
  // A headless service's pods share a port; a port free on 127.0.0.1 is taken on the others too.
  for (let attempt = 0; simulators.length < REPLICA_ADDRESSES.length; attempt += 1) {
    const port = await freePort();
    try {
      for (const host of REPLICA_ADDRESSES) simulators.push(await startSimulator({ ...simulatorOptions, host, port }));
    } catch (error) {
      await Promise.all(simulators.splice(0).map((simulator) => simulator.close()));
      if (attempt >= 5) throw error;
    }
  }
  loadKey = generateApiKey();
  limitedKey = generateApiKey();
  const values = {
    replicaCount: INSTANCES,
    // Merged into the chart's default config: listeners on 0.0.0.0:8080 and :8081, auth on.
    config: {
      server: { drainTimeoutMs: DRAIN_TIMEOUT_MS },
      discovery: [{ dns: SERVICE, port: simulators[0]!.port, models: [MODEL], servers: [dns.address], refreshIntervalMs: 2_000 }],
      // A bound of at least the replica count never moves a session off its replica (see
      // routing/balancer.ts loadLimit): this test is about instances agreeing, not about the bound.
      routing: { capacityFactor: REPLICA_ADDRESSES.length },
      health: { probeIntervalMs: 500 },
      rateLimits: { store: 'redis' },
      logging: { level: 'info', accessLog: false },
    },
    // Rendered into the chart's own Secret (existingSecret empty): hashes only.
    apiKeys: {
      enabled: true,
      existingSecret: '',
      keys: [
        { id: 'load', tenant: 'acme', hash: hashApiKey(loadKey), limits: {} },
        { id: 'limited', tenant: 'acme', hash: hashApiKey(limitedKey), limits: { requestsPerMinute: 0.001, burstRequests: LIMITED_BURST } },
      ],
    },
    redis: { existingSecret: REDIS_SECRET.name, secretKey: REDIS_SECRET.key },
  };
  scratch = mkdtempSync(join(tmpdir(), 'tollbooth-instances-'));
  const valuesFile = join(scratch, 'values.yaml');
  writeFileSync(valuesFile, stringify(values));
  const rendered = await run(await installHelm(), ['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile]);
  if (rendered.code !== 0) throw new Error(`helm template failed:\n${rendered.stderr}`);
  pod = podOnThisMachine(parseObjects(rendered.stdout), join(scratch, 'pod'), { [REDIS_SECRET.name]: { [REDIS_SECRET.key]: redis.url } });
  await Promise.all(Array.from({ length: pod.replicas }, (_, slot) => startInstance(slot)));
  // Minutes only on a first run that builds helm (npm test builds it before this file runs).
}, 20 * 60_000);

afterAll(async () => {
  for (const instance of running) instance.cli.child.kill('SIGKILL');
  await Promise.all(running.map((instance) => instance.cli.exited()));
  await Promise.all(simulators.map((simulator) => simulator.close()));
  await dns?.close();
  await redis?.stop();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

function sdk(apiKey: string): OpenAI {
  // maxRetries 0: the load balancer is the only one retrying, so every error is counted.
  return new OpenAI({ apiKey, baseURL: 'http://load-balancer.invalid/v1', fetch: balancer.fetch, maxRetries: 0 });
}

let sequence = 0;

/** One chat request through the load balancer, classified as the header comment says. */
async function request(client: OpenAI, session: string, stream: boolean): Promise<Outcome> {
  const requestId = `${session}-${(sequence += 1)}`;
  const options = { headers: { 'x-session-id': session, 'x-request-id': requestId } };
  const body = { model: MODEL, max_tokens: OUTPUT_TOKENS, messages: [{ role: 'user' as const, content: `conversation ${session}` }] };
  const outcome = (result: Outcome['result'], replica: string | null, detail: string): Outcome => ({
    requestId, session, stream, replica, backend: balancer.backendOf(requestId)?.id, result, detail,
  });
  if (!stream) {
    try {
      const { data, response } = await client.chat.completions.create(body, options).withResponse();
      const finished = data.choices[0]?.finish_reason !== undefined && data.choices[0]?.finish_reason !== null;
      return outcome(finished ? 'ok' : 'failed', response.headers.get('x-tollbooth-replica'), finished ? '' : 'no finish_reason');
    } catch (error) {
      return outcome('failed', null, String(error));
    }
  }
  let started: Awaited<ReturnType<ReturnType<OpenAI['chat']['completions']['create']>['withResponse']>>;
  try {
    started = await client.chat.completions.create({ ...body, stream: true }, options).withResponse();
  } catch (error) {
    return outcome('failed', null, String(error));
  }
  const replica = started.response.headers.get('x-tollbooth-replica');
  let finishReason: string | null = null;
  try {
    for await (const chunk of started.data as AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    }
  } catch (error) {
    return outcome('cut', replica, String(error));
  }
  return outcome(finishReason === null ? 'cut' : 'ok', replica, finishReason === null ? 'ended without finish_reason' : '');
}

describe('the gateways of the rendered chart', () => {
  it('run the configuration the chart renders, with only what a pod provides mapped to this machine', () => {
    expect(pod.replicas).toBe(INSTANCES);
    // The configuration each process loads (the CLI's loader, its file and env) is the ConfigMap's,
    // every field but the mapped ones unchanged.
    const loaded = loadConfig({ file: pod.configFile, env: { ...process.env, ...pod.env } });
    expect(differingPaths(pod.renderedConfig, loaded).sort()).toEqual(MAPPED_PATHS);
    expect(pod.renderedConfig.server).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect([loaded.server.host, loaded.server.port, loaded.admin.host, loaded.admin.port]).toEqual(['127.0.0.1', 0, '127.0.0.1', 0]);
    expect(loaded.redis.url).toBe(redis.url);
    expect(loaded.auth.keysFile).toBe(join(pod.root, pod.renderedConfig.auth.keysFile!));
    // What the values asked for reached the gateway through the chart.
    expect(loaded.rateLimits.store).toBe('redis');
    expect(loaded.discovery).toMatchObject([{ dns: SERVICE, servers: [dns.address] }]);
    for (const instance of running) expect(new URL(instance.backend.origin).hostname).toBe('127.0.0.1');
  });
});

describe('three gateway instances behind a load balancer', () => {
  it('lose no request to a SIGKILL before it streams, and none to three rolling restarts; limits and sessions hold across them', async () => {
    const outcomes: Outcome[] = [];
    const client = sdk(loadKey);
    // Both loops stop in the finally below, whatever fails first.
    let loading = true;
    let limiting = true;
    let limitedLoops: Array<Promise<void>> = [];
    const loops = Array.from({ length: LOAD_LOOPS }, async (_, loop) => {
      for (let turn = 0; loading; turn += 1) {
        const session = `s${(loop * 7 + turn) % SESSIONS}`;
        outcomes.push(await request(client, session, (loop + turn) % 2 === 0));
      }
    });
    const completed = async (more: number): Promise<void> => {
      const target = outcomes.length + more;
      await until(() => outcomes.length >= target, `${more} more completed requests`);
    };

    const limited = { admitted: 0, refused: 0, other: [] as string[] };
    const drained: Array<{ id: string; code: number | null; timedOut: boolean }> = [];
    const victim = running.find((instance) => instance.slot === 0)!;
    try {
      // Phase 1: SIGKILL one instance while it relays requests; nobody tells the load balancer.
      await completed(30);
      victim.cli.child.kill('SIGKILL');
      await victim.cli.exited();
      forget(victim);
      await completed(30);

      // Phase 2: roll the two survivors one at a time, three times, while the limited key spends its burst.
      const limitedClient = sdk(limitedKey);
      limitedLoops = [0, 1].map(async (loop) => {
        for (let turn = 0; limiting; turn += 1) {
          try {
            await limitedClient.chat.completions.create(
              { model: MODEL, max_tokens: 2, messages: [{ role: 'user', content: 'budget' }] },
              { headers: { 'x-request-id': `limited-${loop}-${turn}` } },
            );
            limited.admitted += 1;
          } catch (error) {
            if (error instanceof OpenAI.APIError && error.status === 429) limited.refused += 1;
            else limited.other.push(String(error));
          }
          await new Promise((wake) => setTimeout(wake, 150));
        }
      });
      for (let round = 0; round < ROLLING_ROUNDS; round += 1) {
        for (const slot of [1, 2]) {
          const instance = running.find((candidate) => candidate.slot === slot)!;
          instance.cli.child.kill('SIGTERM');
          // Endpoints lag a pod's termination: requests keep arriving for a moment (the load
          // balancer retries what the draining instance refuses).
          await new Promise((wake) => setTimeout(wake, 200));
          balancer.remove(instance.backend.id);
          const { code } = await instance.cli.exited();
          drained.push({ id: instance.backend.id, code, timedOut: instance.cli.stdout().includes('drain timeout reached') });
          forget(instance);
          await startInstance(slot);
          await completed(10);
        }
      }
    } finally {
      limiting = false;
      loading = false;
      await Promise.all([...limitedLoops, ...loops]);
    }

    const lb = balancer.counts();
    const failed = outcomes.filter((outcome) => outcome.result === 'failed');
    const cut = outcomes.filter((outcome) => outcome.result === 'cut');
    const cutByKill = cut.filter((outcome) => outcome.backend === victim.backend.id);
    console.log(
      `instances: ${outcomes.length} requests (${outcomes.filter((outcome) => outcome.stream).length} streams); ` +
        `load balancer retries ${JSON.stringify(lb.retries)}; streams cut by the SIGKILL: ${cutByKill.length}; ` +
        `limited key: ${limited.admitted} admitted, ${limited.refused} refused`,
    );

    // Every request that had not begun its response when an instance died or drained was answered.
    expect(failed.map((outcome) => `${outcome.requestId} via ${String(outcome.backend)}: ${outcome.detail}`)).toEqual([]);
    expect(lb.exhausted).toBe(0);
    // The only streams cut are those the killed process was relaying: none by a rolling restart.
    expect(cut.filter((outcome) => outcome.backend !== victim.backend.id).map((outcome) => `${outcome.requestId} via ${String(outcome.backend)}: ${outcome.detail}`)).toEqual([]);
    // Each SIGTERM drained within the drain timeout and exited 0.
    expect(drained).toHaveLength(ROLLING_ROUNDS * 2);
    for (const stop of drained) expect(stop, stop.id).toEqual({ id: stop.id, code: 0, timedOut: false });
    // The retry path was exercised: the kill and the drains sent requests elsewhere.
    expect(lb.retries.connection + lb.retries.shutting_down).toBeGreaterThan(0);

    // The limit is one limit across the instances, restarts included.
    expect(limited.other).toEqual([]);
    expect(limited.admitted).toBe(LIMITED_BURST);
    expect(limited.refused).toBeGreaterThan(0);

    // Every session on one replica, from every instance that served it.
    const answered = outcomes.filter((outcome) => outcome.replica !== null);
    const bySession = new Map<string, { replicas: Set<string>; backends: Set<string> }>();
    for (const outcome of answered) {
      const entry = bySession.get(outcome.session) ?? { replicas: new Set(), backends: new Set() };
      entry.replicas.add(outcome.replica!);
      entry.backends.add(outcome.backend!.split('#')[0]!);
      bySession.set(outcome.session, entry);
    }
    expect(bySession.size).toBe(SESSIONS);
    for (const [session, { replicas, backends }] of bySession) {
      expect([...replicas], session).toHaveLength(1);
      expect(backends.size, `${session} was served by several instances`).toBeGreaterThanOrEqual(2);
    }
    // The same from the replicas' side: each simulator's own record of the request ids it served.
    const sessionsOnReplica = simulators.map(
      (simulator) => new Set(simulator.truth.all().map((record) => record.requestId).filter((id) => /^s\d+-/.test(id)).map((id) => id.split('-')[0])),
    );
    for (const session of bySession.keys()) {
      expect(sessionsOnReplica.filter((sessions) => sessions.has(session)), session).toHaveLength(1);
    }
    // The replicas were found through the stand-in DNS server, by every instance.
    expect(dns.queries(SERVICE)).toBeGreaterThanOrEqual(INSTANCES);
  }, 150_000);
});
