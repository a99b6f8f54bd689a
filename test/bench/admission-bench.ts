/**
 * What API-key auth plus rate limits add to a request (issue 4, item 9), measured on the built
 * CLI. Run through `test/bench/run-admission-bench.sh` (takes /tmp/tollbooth-bench.lock, builds):
 *
 *   node dist/test/bench/admission-bench.js [--rounds 5] [--seconds 5] [--connections 32]
 *     Three gateways in front of one simulator (zero delays, 16 tokens, non-streaming), identical
 *     except the admission stages:
 *       off     auth.enabled: false (no key check, no limits): the baseline
 *       memory  one API key, limits in the memory store
 *       redis   the same key, limits in the Redis store (a real redis-server on loopback)
 *     The key's limits are generous (nothing is ever refused: this measures the cost of checking)
 *     but set on every path: request bucket, token bucket (reserve, then reconcile), concurrency
 *     lease and a spend budget (the model is priced), so each request does the full admit and the
 *     full settle. Every round runs `wrk -t1 -c1` then `wrk -t1 -cN` against each gateway, the
 *     order rotating per round; the table gives medians over rounds with min–max, and the
 *     differences (latency, CPU) or ratios (throughput) against `off`, paired within each round.
 *
 *   node dist/test/bench/admission-bench.js profile --profile-dir DIR [--seconds 10] [--connections 32]
 *     The same three gateways under `node --cpu-prof`, `wrk -cN` for the given time each; prints
 *     the heaviest functions by self time and the admission-path functions by inclusive time.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { generateApiKey, hashApiKey } from '../../src/auth/key-format.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { summarizeProfile } from './cpu-profile-summary.js';
import { launch, type FreshServer } from './fresh-server.js';
import { cpuDuring, machineCpuSeconds } from './procfs.js';
import { barLines, FigureBook, figureTable, judge, positiveNumber, runBenchmark, UNPACED_SIMULATOR_CONFIG, type Bar, type Comparison, type Figure, type FigureKind } from './report.js';
import { CHAT_PATH, chatBody, simHeaders } from './scenario.js';
import { runWrk, writeWrkScript, type WrkResult } from './wrk.js';
import { freePort } from '../helpers/free-ports.js';

const CLI = 'dist/src/cli/tollbooth.js';
const MODEL = 'tollbooth-sim-model';
const TARGET_NAMES = ['off', 'memory', 'redis'] as const;
type TargetName = (typeof TARGET_NAMES)[number];

/** Long enough for the settle calls of a run's last responses to reach Redis. */
const SETTLE_TAIL_MS = 200;

/** The bars, on the c=1 latency differences against `off`. */
const BAR_LIMITS_MS = { memoryP50: 0.1, redisP50: 0.5, redisP99: 2 } as const;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------- the servers

/**
 * Limits no benchmark load reaches (the burst defaults to a minute's worth), on every path the
 * limiter has. The budget stays below 2^53 nano-units, where the stores compare exactly.
 */
const GENEROUS_POLICY = {
  models: ['*'],
  limits: { requestsPerMinute: 1e9, tokensPerMinute: 1e12, maxConcurrent: 10_000 },
  budget: { daily: 1_000_000, monthly: 1_000_000 },
};

interface BenchSetup {
  readonly workDir: string;
  readonly pidFile: string;
  readonly simulatorUrl: string;
  readonly keyHash: string;
  readonly redis: RedisServer;
}

function gatewayConfig(target: TargetName, port: number, setup: BenchSetup): Record<string, unknown> {
  const common = {
    server: { host: '127.0.0.1', port },
    replicas: [{ name: 'sim', url: setup.simulatorUrl, models: [MODEL] }],
    // Priced, so every gateway computes a cost and the budgeted ones charge it at settlement.
    cost: { tokenPrices: { [MODEL]: { input: 0.5, output: 1.5 } } },
  };
  if (target === 'off') return { ...common, auth: { enabled: false } };
  return {
    ...common,
    auth: { enabled: true, keys: [{ id: 'bench', tenant: 'bench', hash: setup.keyHash, ...GENEROUS_POLICY }] },
    rateLimits: { store: target },
    ...(target === 'redis' ? { redis: { url: setup.redis.url } } : {}),
  };
}

/** Writes the server's configuration (given the free port it will listen on) and starts it. */
async function startServer(
  name: string,
  command: 'start' | 'sim',
  configFor: (port: number) => Record<string, unknown>,
  setup: Pick<BenchSetup, 'workDir' | 'pidFile'>,
  nodeFlags: readonly string[] = [],
): Promise<FreshServer & { url: string }> {
  const port = await freePort();
  const file = join(setup.workDir, `${name}.yaml`);
  writeFileSync(file, stringify(configFor(port)));
  const url = `http://127.0.0.1:${port}`;
  const argv = [process.execPath, ...nodeFlags, CLI, command, '--config', file, ...(command === 'sim' ? ['--port', String(port)] : [])];
  const server = await launch({ name, argv, url, readyPath: command === 'sim' ? '/health' : '/ready', measure: 'process' }, setup.pidFile);
  return { ...server, url };
}

interface Target {
  readonly name: TargetName;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

interface Harness {
  readonly setup: BenchSetup;
  readonly simulatorPid: number;
  readonly redisPid: number;
  readonly redisClient: Redis;
  readonly targets: readonly Target[];
  readonly key: string;
  stop(): Promise<void>;
}

async function startHarness(nodeFlags: readonly string[] = []): Promise<Harness> {
  const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-admission-bench-'));
  const pidFile = join(workDir, 'spawned.pids');
  appendFileSync(pidFile, '');
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const redis = await startRedisServer();
    stops.push(() => redis.stop());
    const redisClient = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    stops.push(async () => void redisClient.disconnect());
    const redisPid = Number(/process_id:(\d+)/.exec(await redisClient.info('server'))?.[1]);
    if (!Number.isInteger(redisPid)) throw new Error('redis-server did not report its process_id');
    const simulator = await startServer('sim', 'sim', (port) => ({ ...UNPACED_SIMULATOR_CONFIG, port }), { workDir, pidFile });
    stops.push(() => simulator.stop());
    const key = generateApiKey();
    const setup: BenchSetup = { workDir, pidFile, simulatorUrl: simulator.url, keyHash: hashApiKey(key), redis };
    const targets: Target[] = [];
    for (const name of TARGET_NAMES) {
      const server = await startServer(`gateway-${name}`, 'start', (port) => gatewayConfig(name, port, setup), setup, nodeFlags);
      stops.push(() => server.stop());
      targets.push({ name, url: server.url, pid: server.pid, stop: () => server.stop() });
    }
    return { setup, simulatorPid: simulator.pid, redisPid, redisClient, targets, key, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------- checks before measuring

interface RedisScriptStats {
  readonly calls: number;
  readonly usec: number;
}

/** EVAL/EVALSHA calls and their server-side time since the last CONFIG RESETSTAT. */
async function redisScriptStats(client: Redis): Promise<RedisScriptStats> {
  const text = await client.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const match of text.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+),/gm)) {
    calls += Number(match[1]);
    usec += Number(match[2]);
  }
  return { calls, usec };
}

/**
 * Each gateway must do what its name says before its figures mean anything: `off` serves without
 * a key; `memory` and `redis` refuse a missing key and answer a keyed request with rate-limit
 * headers; `redis` decides in Redis (script calls), not with the failure policy's local buckets.
 */
async function checkTargets(harness: Harness): Promise<void> {
  const request = (url: string, withKey: boolean): Promise<Response> =>
    fetch(`${url}${CHAT_PATH}`, {
      method: 'POST',
      headers: { ...simHeaders({ tokens: 16, interTokenMs: 0, ttftMs: 0 }), ...(withKey ? { authorization: `Bearer ${harness.key}` } : {}) },
      body: chatBody(false),
    });
  for (const target of harness.targets) {
    const keyless = await request(target.url, false);
    await keyless.arrayBuffer();
    const expectedKeyless = target.name === 'off' ? 200 : 401;
    if (keyless.status !== expectedKeyless) throw new Error(`${target.name}: a request without a key got ${keyless.status}, expected ${expectedKeyless}`);
    await harness.redisClient.config('RESETSTAT');
    const keyed = await request(target.url, true);
    await keyed.arrayBuffer();
    if (keyed.status !== 200) throw new Error(`${target.name}: a keyed request got ${keyed.status}`);
    const limitHeader = keyed.headers.get('x-ratelimit-limit-requests');
    if ((target.name === 'off') !== (limitHeader === null)) throw new Error(`${target.name}: x-ratelimit-limit-requests is ${limitHeader ?? 'absent'}`);
    await sleep(50);
    const scripts = await redisScriptStats(harness.redisClient);
    if ((target.name === 'redis') !== scripts.calls > 0) throw new Error(`${target.name}: ${scripts.calls} Redis script calls for one request`);
    log(`check ${target.name.padEnd(6)}: no key → ${keyless.status}, key → ${keyed.status}, x-ratelimit-limit-requests ${limitHeader ?? '–'}, Redis script calls ${scripts.calls}`);
  }
}

// ---------------------------------------------------------------- measuring


interface RawRun {
  readonly round: number;
  readonly connections: number;
  readonly target: TargetName;
  readonly wrk: WrkResult;
  readonly wallSeconds: number;
  readonly gatewayCpuSeconds: number;
  readonly simulatorCpuSeconds: number;
  readonly redisCpuSeconds: number;
  readonly redisScripts: RedisScriptStats;
  readonly machineBusyCores: number;
  readonly foreignCores: number;
}

/** Busy cores of the machine over one second while the benchmark idles. */
async function backgroundCores(): Promise<number> {
  const before = machineCpuSeconds();
  const wallBefore = performance.now();
  await sleep(1000);
  const after = machineCpuSeconds();
  return (after.busy - before.busy) / ((performance.now() - wallBefore) / 1000);
}

function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

interface MeasureSettings {
  readonly rounds: number;
  readonly seconds: number;
  readonly connections: number;
  readonly outDir: string;
  readonly commit: string;
}

/**
 * The wrk script both modes run: one non-streaming chat with the harness's key. The same bytes go
 * to every gateway; `off` ignores the key (and forwards the header upstream).
 */
function writeNonStreamScript(harness: Harness): string {
  const script = join(harness.setup.workDir, 'non-stream.lua');
  writeWrkScript(script, {
    path: CHAT_PATH,
    body: chatBody(false),
    headers: { ...simHeaders({ tokens: 16, interTokenMs: 0, ttftMs: 0 }), authorization: `Bearer ${harness.key}` },
  });
  return script;
}

async function measure(settings: MeasureSettings): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  const harness = await startHarness();
  try {
    await checkTargets(harness);
    const script = writeNonStreamScript(harness);
    const benchPids = [harness.simulatorPid, harness.redisPid, ...harness.targets.map((target) => target.pid)];
    log(`warming up (wrk -c${settings.connections}, 3 s per gateway); load average ${loadAtStart}`);
    for (const target of harness.targets) await runWrk(target.url, script, settings.connections, 3);

    const book = new FigureBook(settings.rounds);
    const raw: RawRun[] = [];
    const backgrounds: number[] = [];
    const loads: string[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      // Rotating the order (a Latin square over every three rounds) spreads drift over all targets.
      const order = harness.targets.map((_, index) => harness.targets[(index + round) % harness.targets.length]!);
      const background = await backgroundCores();
      backgrounds.push(background);
      loads.push(loadAverage());
      log(`\n== round ${round + 1}/${settings.rounds}: ${order.map((target) => target.name).join(' → ')} (background ${background.toFixed(2)} cores, load average ${loads[round]})`);
      for (const connections of [1, settings.connections]) {
        for (const target of order) {
          await harness.redisClient.config('RESETSTAT');
          const account = await cpuDuring([target.pid, harness.simulatorPid, harness.redisPid], () => runWrk(target.url, script, connections, settings.seconds), benchPids);
          const [gatewayCpu = 0, simulatorCpu = 0, redisCpu = 0] = account.processSeconds;
          // Settlements of the last responses reach Redis just after wrk ends: count them here,
          // not under the next target.
          await sleep(SETTLE_TAIL_MS);
          const redisScripts = await redisScriptStats(harness.redisClient);
          const run: RawRun = {
            round,
            connections,
            target: target.name,
            wrk: account.result,
            wallSeconds: account.wallSeconds,
            gatewayCpuSeconds: gatewayCpu,
            simulatorCpuSeconds: simulatorCpu,
            redisCpuSeconds: redisCpu,
            redisScripts,
            machineBusyCores: account.machineBusyCores,
            foreignCores: account.foreignCores,
          };
          raw.push(run);
          record(book, run);
          const errors = run.wrk.errors > 0 ? `  ERRORS ${run.wrk.errors}` : '';
          log(
            `c=${String(connections).padEnd(3)} ${target.name.padEnd(6)} ${run.wrk.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${run.wrk.p50Ms.toFixed(3)}  p99 ${run.wrk.p99Ms.toFixed(3)} ms  ` +
              `gateway ${((gatewayCpu / run.wrk.requests) * 1e6).toFixed(0)} µs/req  redis scripts ${(redisScripts.calls / run.wrk.requests).toFixed(2)}/req  ` +
              `foreign ${run.foreignCores.toFixed(2)} cores${errors}`,
          );
        }
      }
    }
    report({ settings, startedAt, loadAtStart, loadAtEnd: loadAverage(), loads, backgrounds, book, raw });
  } finally {
    await harness.stop();
  }
}

function record(book: FigureBook, run: RawRun): void {
  const scenario = `c=${run.connections}`;
  const put = (suffix: string, label: string, unit: string, kind: FigureKind, value: number): void =>
    book.put(`c${run.connections}.${suffix}`, `${scenario} ${label}`, unit, kind, run.target, run.round, value);
  const requests = run.wrk.requests;
  put('rps', 'throughput', 'req/s', 'rate', run.wrk.requestsPerSecond);
  put('p50', 'latency p50', 'ms', 'time', run.wrk.p50Ms);
  put('p90', 'latency p90', 'ms', 'time', run.wrk.p90Ms);
  put('p99', 'latency p99', 'ms', 'time', run.wrk.p99Ms);
  put('cpu', 'gateway CPU per request', 'µs', 'time', (run.gatewayCpuSeconds / requests) * 1e6);
  put('rediscpu', 'redis-server CPU per request', 'µs', 'time', (run.redisCpuSeconds / requests) * 1e6);
  put('scripts', 'Redis script calls per request', 'calls', 'size', run.redisScripts.calls / requests);
  put('scriptus', 'Redis time per script call (server side)', 'µs', 'size', run.redisScripts.calls === 0 ? Number.NaN : run.redisScripts.usec / run.redisScripts.calls);
  put('errors', 'non-2xx and socket errors', 'count', 'size', run.wrk.errors);
}

const COMPARISONS: readonly Comparison[] = [
  { name: 'memory vs off', through: 'memory', base: 'off' },
  { name: 'redis vs off', through: 'redis', base: 'off' },
];

interface ReportInput {
  readonly settings: MeasureSettings;
  readonly startedAt: Date;
  readonly loadAtStart: string;
  readonly loadAtEnd: string;
  readonly loads: readonly string[];
  readonly backgrounds: readonly number[];
  readonly book: FigureBook;
  readonly raw: readonly RawRun[];
}

function report(input: ReportInput): void {
  const figures = input.book.all();
  const bars: Bar[] = [
    { name: `memory store adds ≤ ${BAR_LIMITS_MS.memoryP50} ms at p50 (c=1, memory − off)`, figureId: 'c1.p50', comparison: COMPARISONS[0], target: undefined, limit: BAR_LIMITS_MS.memoryP50, direction: 'at-most' },
    { name: `Redis store adds ≤ ${BAR_LIMITS_MS.redisP50} ms at p50 (c=1, redis − off)`, figureId: 'c1.p50', comparison: COMPARISONS[1], target: undefined, limit: BAR_LIMITS_MS.redisP50, direction: 'at-most' },
    { name: `Redis store adds ≤ ${BAR_LIMITS_MS.redisP99} ms at p99 (c=1, redis − off)`, figureId: 'c1.p99', comparison: COMPARISONS[1], target: undefined, limit: BAR_LIMITS_MS.redisP99, direction: 'at-most' },
  ];
  const outcomes = judge(bars, figures);
  const table = figureTable(figures, [...TARGET_NAMES], COMPARISONS);
  const errors = input.raw.reduce((sum, run) => sum + run.wrk.errors, 0);
  const minutes = (Date.now() - input.startedAt.getTime()) / 60_000;
  const lines = [
    `# Admission benchmark (auth + rate limits), ${input.startedAt.toISOString()}`,
    '',
    `commit ${input.settings.commit}; ${input.settings.rounds} rounds × ${input.settings.seconds} s per target and concurrency (wrk -t1, c=1 and c=${input.settings.connections}), ${minutes.toFixed(1)} min`,
    `load average at start ${input.loadAtStart}, per round ${input.loads.join(' | ')}, at end ${input.loadAtEnd}`,
    `background before each round (cores busy, benchmark idle): ${input.backgrounds.map((value) => value.toFixed(2)).join(' ')}`,
    `wrk errors (non-2xx + socket) over the whole run: ${errors}`,
    '',
    'Medians over rounds [min…max]; "vs off" columns: paired per round, then the median (+ difference, × ratio).',
    '',
    table,
    '',
    barLines(outcomes),
  ];
  const text = lines.join('\n');
  process.stdout.write(`\n${text}\n`);
  mkdirSync(input.settings.outDir, { recursive: true });
  const stamp = input.startedAt.toISOString().replace(/[:.]/g, '-');
  const base = join(input.settings.outDir, `admission-${stamp}`);
  writeFileSync(`${base}.md`, `${text}\n`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ settings: input.settings, loads: input.loads, backgrounds: input.backgrounds, figures, bars: outcomes, raw: input.raw }, null, 1)}\n`);
  log(`\nwritten: ${base}.{md,json}`);
}

// ---------------------------------------------------------------- profile

/** Where the admission stages and their store live, to pick them out of the profile. */
const ADMISSION_FRAMES = /src\/(auth|ratelimit|redis)\/|node_modules\/ioredis\/|node_modules\/redis-parser\/|node_modules\/denque\//;

async function profile(values: { profileDir: string; seconds: number; connections: number }): Promise<void> {
  mkdirSync(values.profileDir, { recursive: true });
  const harness = await startHarness(['--cpu-prof', '--cpu-prof-dir', values.profileDir]);
  const profiles = new Map<TargetName, string>();
  try {
    await checkTargets(harness);
    const script = writeNonStreamScript(harness);
    for (const target of harness.targets) {
      const before = new Set(readdirSync(values.profileDir));
      const result = await runWrk(target.url, script, values.connections, values.seconds);
      log(`profile ${target.name.padEnd(6)} ${result.requestsPerSecond.toFixed(0)} req/s under --cpu-prof, ${result.errors} errors`);
      // The profile is written when the process exits.
      await target.stop();
      const written = readdirSync(values.profileDir).filter((file) => !before.has(file) && file.endsWith('.cpuprofile'));
      if (written.length !== 1) throw new Error(`${target.name}: expected one new profile in ${values.profileDir}, found ${written.join(', ') || 'none'}`);
      profiles.set(target.name, join(values.profileDir, written[0]!));
    }
  } finally {
    await harness.stop();
  }
  for (const [name, file] of profiles) {
    const summary = summarizeProfile(file);
    const percent = (share: number): string => `${(share * 100).toFixed(1).padStart(5)} %`;
    process.stdout.write(`\n## ${name}: ${file}\n${summary.busySamples} busy samples (${summary.idleSamples} idle), GC ${percent(summary.gcShare)}\n`);
    process.stdout.write('top self time:\n');
    for (const fn of [...summary.functions].sort((a, b) => b.selfShare - a.selfShare).slice(0, 15)) {
      process.stdout.write(`  ${percent(fn.selfShare)} self  ${percent(fn.inclusiveShare)} incl  ${fn.name}\n`);
    }
    const admission = summary.functions.filter((fn) => ADMISSION_FRAMES.test(fn.name)).sort((a, b) => b.inclusiveShare - a.inclusiveShare);
    if (admission.length > 0) {
      process.stdout.write('admission path (auth, rate limits, Redis client) by inclusive time:\n');
      for (const fn of admission.slice(0, 20)) process.stdout.write(`  ${percent(fn.inclusiveShare)} incl  ${percent(fn.selfShare)} self  ${fn.name}\n`);
    }
  }
}

// ---------------------------------------------------------------- command line

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string' },
      connections: { type: 'string', default: '32' },
      'profile-dir': { type: 'string' },
      'out-dir': { type: 'string', default: 'test/bench/out' },
    },
  });
  const mode = positionals[0] ?? 'measure';
  const connections = positiveNumber('connections', values.connections);
  if (mode === 'measure') {
    await measure({
      rounds: positiveNumber('rounds', values.rounds),
      seconds: positiveNumber('seconds', values.seconds ?? '5'),
      connections,
      outDir: values['out-dir'],
      commit: process.env.ADMISSION_GIT_COMMIT ?? 'unknown',
    });
  } else if (mode === 'profile') {
    if (values['profile-dir'] === undefined) throw new Error('profile needs --profile-dir DIR');
    await profile({ profileDir: values['profile-dir'], seconds: positiveNumber('seconds', values.seconds ?? '10'), connections });
  } else {
    throw new Error(`unknown mode '${mode}' (measure or profile)`);
  }
}

runBenchmark('admission-bench', main);
