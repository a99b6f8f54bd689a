/**
 * The profiling orchestrator started by profile-gateway.sh once the simulator listens: where the
 * gateway's CPU goes under the peer benchmark's loads, and what a change saves.
 *
 * - profile: per load, a fresh gateway under `node --cpu-prof --trace-gc`, warmed up, then the load;
 *   on exit its profile is summarised (cpu-profile-summary.ts): top self frames, top inclusive
 *   frames of our own code (src/), the GC share, and the scavenge / mark-compact pauses of the
 *   load from the --trace-gc log.
 * - ab: a base build and this one side by side, one process each, interleaved rounds (the order
 *   reversed every other round, an unmeasured second right before each measurement, as
 *   bench:stream-ab learned); CPU per request or per stream from /proc, paired within a round.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { summarizeProfile } from './cpu-profile-summary.js';
import { launch, type FreshServer } from './fresh-server.js';
import { measurePaced, measureWrk, openStreamsMemory, scriptEnvironment, warmUp, type MeasureContext, type Target } from './measure.js';
import { gcPauses, type GcPauses } from './gc-trace.js';
import { formatSpread, runBenchmark } from './report.js';
import { CHAT_PATH, chatBody, simHeaders } from './scenario.js';
import { spreadOf } from './stats.js';
import { runWrk, writeWrkScript } from './wrk.js';

interface Gateway {
  readonly name: string;
  readonly cli: string;
  readonly config: string;
  readonly nodeFlags: readonly string[];
  readonly url: string;
  /** The memory load's fresh process listens here, beside the long-lived one. */
  readonly memoryConfig: string;
  readonly memoryUrl: string;
}

type LoadName = 'c32' | 'paced10' | 'paced100' | 'open1000';
const LOADS: readonly LoadName[] = ['c32', 'paced10', 'paced100', 'open1000'];
const PACED = { tokens: 64, interTokenMs: 20, ttftMs: 5 } as const;
/** The peer benchmark's memory scenario: 1000 streams held open, 100 ms between chunks. */
const OPEN_STREAMS = 1000;
const OPEN = { tokens: 64, interTokenMs: 100, ttftMs: 5 } as const;

const env = scriptEnvironment('test/bench/profile-gateway.sh');

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function readGateways(): Gateway[] {
  const parsed = JSON.parse(env('BENCH_GATEWAYS')) as Gateway[];
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error('BENCH_GATEWAYS must be a non-empty JSON array');
  return parsed;
}

function readLoads(mode: string): LoadName[] {
  const names = env('PROFILE_LOADS', (mode === 'ab' ? LOADS : LOADS.filter((load) => load !== 'open1000')).join(',')).split(',');
  for (const name of names) if (!LOADS.includes(name as LoadName)) throw new Error(`unknown load ${name} (known: ${LOADS.join(', ')})`);
  return names as LoadName[];
}

/** `sh` runs the gateway so its stdout (access log, --trace-gc lines) lands in `stdoutFile`. */
function argvOf(gateway: Gateway, extraFlags: readonly string[], stdoutFile: string): string[] {
  return ['sh', '-c', 'exec "$@" >"$0"', stdoutFile, process.execPath, ...gateway.nodeFlags, ...extraFlags, gateway.cli, 'start', '--config', gateway.config];
}

async function start(gateway: Gateway, extraFlags: readonly string[], stdoutFile: string): Promise<FreshServer> {
  return launch({ name: gateway.name, argv: argvOf(gateway, extraFlags, stdoutFile), url: gateway.url, readyPath: '/ready', measure: 'process' }, env('BENCH_PID_FILE'));
}

/** One unit of a load: a request (c32) or a stream (paced). */
interface LoadRun {
  readonly units: number;
  readonly cpuSeconds: number;
  /** The client's time to first content, p99 (paced loads). */
  readonly firstContentP99Ms?: number;
  readonly summary: string;
}

class Loads {
  readonly nonStreamScript: string;
  readonly streamScript: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    private readonly bench: MeasureContext,
    workDir: string,
    apiKey: string,
    private readonly seconds: number,
  ) {
    this.headers = { authorization: `Bearer ${apiKey}` };
    this.nonStreamScript = join(workDir, 'non-stream.lua');
    this.streamScript = join(workDir, 'stream.lua');
    writeWrkScript(this.nonStreamScript, { path: CHAT_PATH, body: chatBody(false), headers: { ...simHeaders({ tokens: 16, interTokenMs: 0, ttftMs: 0 }), ...this.headers } });
    writeWrkScript(this.streamScript, { path: CHAT_PATH, body: chatBody(true), headers: { ...simHeaders({ tokens: 64, interTokenMs: 0, ttftMs: 0 }), ...this.headers } });
  }

  async run(load: LoadName, target: Target): Promise<LoadRun> {
    if (load === 'c32') {
      const run = await measureWrk(this.bench, target, this.nonStreamScript, 32, this.seconds);
      const errors = run.result.errors > 0 ? `, ERRORS ${run.result.errors}` : '';
      return { units: run.result.requests, cpuSeconds: run.serverCpuSeconds, summary: `${run.result.requestsPerSecond.toFixed(0)} req/s${errors}` };
    }
    const streams = load === 'paced10' ? 10 : 100;
    const run = await measurePaced(this.bench, target, streams, PACED, this.seconds * 1000, { headers: this.headers });
    const { result } = run;
    const failed = result.failed > 0 ? `, FAILED ${result.failed} (${result.firstErrors.join('; ')})` : '';
    // Every stream started in the run is served, measured or not, so all of them share the CPU.
    return {
      units: result.completed,
      cpuSeconds: run.serverCpuSeconds,
      firstContentP99Ms: result.firstContentMs.p99,
      summary: `${result.completed} streams, first content p50 ${result.firstContentMs.p50.toFixed(2)} p99 ${result.firstContentMs.p99.toFixed(2)} ms${failed}`,
    };
  }

  /** An unmeasured second of the load's kind, so the measured target starts warm. */
  async touch(load: LoadName, url: string): Promise<void> {
    await runWrk(url, load === 'c32' ? this.nonStreamScript : this.streamScript, load === 'c32' ? 32 : 8, 1);
  }
}

/** µs per request or ms per stream. */
function perUnit(load: LoadName, run: LoadRun): number {
  return (run.cpuSeconds / run.units) * (load === 'c32' ? 1e6 : 1e3);
}
const UNIT: Readonly<Record<LoadName, string>> = { c32: 'µs CPU per request', paced10: 'ms CPU per stream', paced100: 'ms CPU per stream', open1000: 'KiB RSS per open stream' };

/** RSS per open stream of a gateway started afresh for it (a process that served load keeps its heap). */
async function openStreamsKiB(gateway: Gateway, loads: Loads): Promise<{ value: number; summary: string }> {
  const fresh = { ...gateway, config: gateway.memoryConfig, url: gateway.memoryUrl };
  const server = await start(fresh, [], '/dev/null');
  try {
    await warmUp(fresh.url, loads.nonStreamScript, loads.streamScript);
    const memory = await openStreamsMemory(server.pid, fresh.url, OPEN_STREAMS, OPEN, loads.headers);
    const held = memory.load.failed === 0 && memory.samples.length > 0;
    return { value: held ? memory.perStreamKiB : Number.NaN, summary: `idle ${(memory.idleKiB / 1024).toFixed(1)} MiB, ${memory.samples.length} samples, ${memory.load.failed} failed` };
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------- profile

const OUR_CODE = /^[^(]*\((src|test)\//;

function printProfile(load: LoadName, file: string, gc: GcPauses, seconds: number): void {
  const summary = summarizeProfile(file);
  const percent = (share: number): string => `${(share * 100).toFixed(1).padStart(5)} %`;
  const out: string[] = [`\n## ${load}: ${file}`, `${summary.busySamples} busy samples (${summary.idleSamples} idle), GC ${percent(summary.gcShare)} of busy`];
  const sorted = [...gc.scavengeMs].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  out.push(
    `--trace-gc over the load: ${gc.scavenges} scavenges (${(gc.scavenges / seconds).toFixed(1)}/s), ${total.toFixed(0)} ms in all, ` +
      `median ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(2)} ms, max ${(sorted.at(-1) ?? 0).toFixed(2)} ms; ${gc.markCompacts} mark-compacts (${gc.markCompactMs.toFixed(0)} ms)`,
  );
  out.push('top self time:');
  for (const fn of [...summary.functions].sort((a, b) => b.selfShare - a.selfShare).slice(0, 20)) out.push(`  ${percent(fn.selfShare)} self  ${percent(fn.inclusiveShare)} incl  ${fn.name}`);
  out.push('our code (src/) by inclusive time:');
  const ours = summary.functions.filter((fn) => OUR_CODE.test(fn.name)).sort((a, b) => b.inclusiveShare - a.inclusiveShare);
  for (const fn of ours.slice(0, 30)) out.push(`  ${percent(fn.inclusiveShare)} incl  ${percent(fn.selfShare)} self  ${fn.name}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

async function profile(gateway: Gateway, loads: Loads, names: readonly LoadName[], seconds: number, dir: string): Promise<void> {
  for (const load of names) {
    const profileDir = join(dir, load);
    mkdirSync(profileDir, { recursive: true });
    const stdoutFile = join(profileDir, 'stdout.log');
    const server = await start(gateway, ['--cpu-prof', '--cpu-prof-dir', profileDir, '--trace-gc'], stdoutFile);
    let run: LoadRun;
    let gcText: string;
    try {
      await warmUp(gateway.url, loads.nonStreamScript, loads.streamScript);
      const gcFrom = statSync(stdoutFile).size;
      run = await loads.run(load, { name: gateway.name, url: gateway.url, pid: server.pid });
      gcText = readFileSync(stdoutFile).subarray(gcFrom).toString('utf8');
    } finally {
      // The profile is written when the process exits.
      await server.stop();
    }
    log(`${load}: ${run.summary}, ${perUnit(load, run).toFixed(load === 'c32' ? 0 : 2)} ${UNIT[load]} under --cpu-prof`);
    const written = readdirSync(profileDir).filter((file) => file.endsWith('.cpuprofile'));
    if (written.length !== 1) throw new Error(`${load}: expected one profile in ${profileDir}, found ${written.join(', ') || 'none'}`);
    printProfile(load, join(profileDir, written[0]!), gcPauses(gcText), seconds);
  }
}

// ---------------------------------------------------------------- ab

async function ab(gateways: readonly Gateway[], loads: Loads, names: readonly LoadName[], rounds: number, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const servers = new Map<string, FreshServer>();
  try {
    for (const gateway of gateways) {
      servers.set(gateway.name, await start(gateway, [], '/dev/null'));
      await warmUp(gateway.url, loads.nonStreamScript, loads.streamScript);
    }
    const figures = new Map<string, number[]>();
    const put = (key: string, value: number): void => {
      figures.set(key, [...(figures.get(key) ?? []), value]);
    };
    log(`load average at start: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [...gateways] : [...gateways].reverse();
      for (const load of names) {
        const line: string[] = [];
        for (const gateway of order) {
          if (load === 'open1000') {
            const memory = await openStreamsKiB(gateway, loads);
            put(`${load} ${gateway.name}`, memory.value);
            line.push(`${gateway.name} ${memory.value.toFixed(1)} (${memory.summary})`);
            continue;
          }
          await loads.touch(load, gateway.url);
          const run = await loads.run(load, { name: gateway.name, url: gateway.url, pid: servers.get(gateway.name)!.pid });
          const value = perUnit(load, run);
          put(`${load} ${gateway.name}`, value);
          if (run.firstContentP99Ms !== undefined) put(`${load} ttft99 ${gateway.name}`, run.firstContentP99Ms);
          line.push(`${gateway.name} ${value.toFixed(load === 'c32' ? 1 : 3)} (${run.summary})`);
        }
        const text = `round ${round + 1} ${load.padEnd(8)} ${line.join(' | ')}`;
        log(text);
        appendFileSync(join(dir, 'ab-rounds.txt'), `${text}\n`);
      }
    }
    log(`load average at end: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
    const [base, current] = [gateways[0]!.name, gateways.at(-1)!.name];
    const out = [`\n| load | ${gateways.map((gateway) => gateway.name).join(' | ')} | ${current} vs ${base}, paired per round |`, `| --- |${gateways.map(() => ' --- |').join('')} --- |`];
    const row = (key: string, label: string, paired: (current: number, base: number) => number, prefix: string): void => {
      const baseRounds = figures.get(`${key} ${base}`) ?? [];
      const pairs = (figures.get(`${key} ${current}`) ?? []).map((value, index) => paired(value, baseRounds[index]!));
      out.push(`| ${label} | ${gateways.map((gateway) => formatSpread(spreadOf(figures.get(`${key} ${gateway.name}`) ?? []))).join(' | ')} | ${formatSpread(spreadOf(pairs), prefix)} |`);
    };
    for (const load of names) {
      row(load, `${load}, ${UNIT[load]}`, (value, baseValue) => value / baseValue, '×');
      if (load === 'paced10' || load === 'paced100') row(`${load} ttft99`, `${load}, client's TTFT p99 ms (difference)`, (value, baseValue) => value - baseValue, '+');
    }
    process.stdout.write(`${out.join('\n')}\nMedians over ${rounds} rounds [min…max]; rounds in ${join(dir, 'ab-rounds.txt')}\n`);
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

runBenchmark('profile-gateway', async () => {
  const gateways = readGateways();
  const mode = env('BENCH_MODE');
  const names = readLoads(mode);
  if (mode === 'profile' && names.includes('open1000')) throw new Error('open1000 is an ab load (memory, no profile)');
  const seconds = Number(env('PROFILE_SECONDS', mode === 'ab' ? '4' : '10'));
  const simPid = Number(env('BENCH_SIM_PID'));
  const loads = new Loads({ simPid, benchPids: [simPid] }, env('BENCH_WORK'), env('BENCH_API_KEY'), seconds);
  const dir = env('BENCH_PROFILE_DIR');
  if (mode === 'profile') await profile(gateways.at(-1)!, loads, names, seconds, dir);
  else await ab(gateways, loads, names, Number(env('AB_ROUNDS', '10')), dir);
});
