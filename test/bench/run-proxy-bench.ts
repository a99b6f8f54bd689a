/**
 * The benchmark orchestrator, started by run.sh once the simulator, the gateway(s) and nginx are
 * listening (each its own process). It measures every target in turn inside each scenario, in
 * rounds that alternate the target order, so drift (thermal, page cache, neighbours) spreads
 * over all targets instead of favouring whichever ran first. It prints the figures with their
 * ratios and the bars, and writes everything as JSON under test/bench/out/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { barLines, COMPARISONS, figureTable, judge, type Bar, type Comparison, type Figure, type FigureKind } from './report.js';
import { CHAT_PATH, chatBody, simHeaders } from './scenario.js';
import { spreadOf } from './stats.js';
import { launch, parseRecipes, type ServerRecipe } from './fresh-server.js';
import { cpuDuring, machineCpuSeconds, residentKiB } from './procfs.js';
import type { StreamLoadResult } from './stream-load.js';
import { runStreamLoad } from './stream-load-process.js';
import { runWrk, writeWrkScript, type WrkResult } from './wrk.js';

interface Target {
  /** direct | tollbooth | nginx | tollbooth-flags */
  readonly name: string;
  readonly url: string;
  /** The process that does the work: the simulator for direct, nginx's worker, the gateway. */
  readonly pid: number;
}

interface Settings {
  readonly targets: readonly Target[];
  readonly simPid: number;
  readonly workDir: string;
  readonly outDir: string;
  readonly rounds: number;
  readonly wrkSeconds: number;
  readonly pacedDurationMs: number;
  readonly memoryStreams: number;
  /** How to start a fresh tollbooth and nginx for the memory scenario. */
  readonly memoryServers: readonly ServerRecipe[];
  readonly pidFile: string;
  readonly meta: Readonly<Record<string, string>>;
}

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set (run through test/bench/run.sh)`);
  return value;
}

function readTargets(text: string): Target[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error('BENCH_TARGETS must be a JSON array');
  return parsed.map((entry: unknown) => {
    const candidate = entry as Partial<Record<keyof Target, unknown>>;
    if (typeof candidate.name !== 'string' || typeof candidate.url !== 'string' || typeof candidate.pid !== 'number') {
      throw new Error(`bad BENCH_TARGETS entry ${JSON.stringify(entry)}`);
    }
    return { name: candidate.name, url: candidate.url, pid: candidate.pid };
  });
}

function readSettings(): Settings {
  return {
    targets: readTargets(env('BENCH_TARGETS')),
    simPid: Number(env('BENCH_SIM_PID')),
    workDir: env('BENCH_WORK'),
    outDir: env('BENCH_OUT_DIR'),
    rounds: Number(env('BENCH_ROUNDS', '3')),
    wrkSeconds: Number(env('BENCH_WRK_SECONDS', '8')),
    pacedDurationMs: Number(env('BENCH_PACED_MS', '4500')),
    memoryStreams: Number(env('BENCH_MEMORY_STREAMS', '1000')),
    memoryServers: parseRecipes(env('BENCH_MEMORY_SERVERS')),
    pidFile: env('BENCH_PID_FILE'),
    meta: {
      nproc: env('BENCH_NPROC', ''),
      node: process.version,
      nginx: env('BENCH_NGINX_VERSION', ''),
      wrk: env('BENCH_WRK_VERSION', ''),
      commit: env('BENCH_GIT_COMMIT', ''),
      gatewayNodeFlags: env('BENCH_NODE_FLAGS', ''),
      pinning: 'none: wrk, the load generator and every server float over all cores',
      accessLog: 'tollbooth access log on (default), written to stdout → /dev/null',
    },
  };
}

/** The experimental gateway (BENCH_NODE_FLAGS) runs only where the flags are expected to matter. */
const FLAGS_TARGET = 'tollbooth-flags';
const NON_STREAM_CONCURRENCY = [1, 32, 128] as const;
const PACED_STREAMS = [100, 1000] as const;
const PACED = { tokens: 64, interTokenMs: 20, ttftMs: 5 } as const;
const MEMORY = { tokens: 64, interTokenMs: 100, ttftMs: 5 } as const;

/** Collects per-round values by figure id; figures keep the order they were first defined in. */
class FigureBook {
  private readonly figures = new Map<string, { label: string; unit: string; kind: FigureKind; perTarget: Record<string, number[]> }>();

  constructor(private readonly rounds: number) {}

  put(id: string, label: string, unit: string, kind: FigureKind, target: string, round: number, value: number): void {
    let figure = this.figures.get(id);
    if (figure === undefined) {
      figure = { label, unit, kind, perTarget: {} };
      this.figures.set(id, figure);
    }
    const values = (figure.perTarget[target] ??= new Array<number>(this.rounds).fill(Number.NaN));
    values[round] = value;
  }

  all(): Figure[] {
    return [...this.figures].map(([id, figure]) => ({ id, ...figure }));
  }
}

interface RawRun {
  readonly round: number;
  readonly scenario: string;
  readonly target: string;
  readonly result: unknown;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

class Bench {
  private readonly book: FigureBook;
  private readonly raw: RawRun[] = [];
  /** Busy cores of the machine while every benchmark process idles, sampled before each round. */
  private readonly backgroundCores: number[] = [];
  private readonly nonStreamScript: string;
  private readonly streamScript: string;

  constructor(private readonly settings: Settings) {
    this.book = new FigureBook(settings.rounds);
    this.nonStreamScript = join(settings.workDir, 'non-stream.lua');
    this.streamScript = join(settings.workDir, 'stream.lua');
    writeWrkScript(this.nonStreamScript, { path: CHAT_PATH, body: chatBody(false), headers: simHeaders({ tokens: 16, interTokenMs: 0, ttftMs: 0 }) });
    writeWrkScript(this.streamScript, { path: CHAT_PATH, body: chatBody(true), headers: simHeaders({ tokens: 64, interTokenMs: 0, ttftMs: 0 }) });
  }

  async run(): Promise<void> {
    for (let round = 0; round < this.settings.rounds; round++) {
      const order = round % 2 === 0 ? [...this.settings.targets] : [...this.settings.targets].reverse();
      const background = await backgroundLoad();
      this.backgroundCores.push(background);
      const warning = background > BACKGROUND_LIMIT ? ' — WARNING: something else is using the CPU, this round is suspect' : '';
      log(`\n== round ${round + 1}/${this.settings.rounds}: ${order.map((target) => target.name).join(' → ')} (background load ${background.toFixed(2)} cores${warning})`);
      for (const target of order) await runWrk(target.url, this.nonStreamScript, 32, 2);
      for (const connections of NON_STREAM_CONCURRENCY) {
        for (const target of order) {
          if (target.name === FLAGS_TARGET && connections !== 1) continue;
          await this.wrkScenario(round, target, `non-stream c=${connections}`, `nonstream.c${connections}`, this.nonStreamScript, connections);
        }
      }
      for (const target of order) {
        if (target.name !== FLAGS_TARGET) await this.wrkScenario(round, target, 'stream 64 unpaced c=32', 'stream.c32', this.streamScript, 32);
      }
      for (const streams of PACED_STREAMS) {
        for (const target of order) await this.pacedScenario(round, target, streams);
      }
      const servers = round % 2 === 0 ? [...this.settings.memoryServers] : [...this.settings.memoryServers].reverse();
      for (const recipe of servers) await this.memoryScenario(round, recipe);
    }
  }

  private async wrkScenario(round: number, target: Target, scenario: string, id: string, script: string, connections: number): Promise<void> {
    const account = await cpuDuring([target.pid, this.settings.simPid], () => runWrk(target.url, script, connections, this.settings.wrkSeconds));
    const { result, wallSeconds, machineBusyCores } = account;
    const [serverCpu = 0, simCpu = 0] = account.processSeconds;
    const simCores = simCpu / wallSeconds;
    this.raw.push({ round, scenario, target: target.name, result: { ...result, serverCpuSeconds: serverCpu, wallSeconds, simCores, machineBusyCores } });
    const put = (suffix: string, label: string, unit: string, kind: FigureKind, value: number): void =>
      this.book.put(`${id}.${suffix}`, `${scenario} ${label}`, unit, kind, target.name, round, value);
    const isProxy = target.name !== 'direct';
    put('rps', 'throughput', 'req/s', 'rate', result.requestsPerSecond);
    put('p50', 'latency p50', 'ms', 'time', result.p50Ms);
    put('p99', 'latency p99', 'ms', 'time', result.p99Ms);
    put('cpu', 'proxy CPU per request', 'µs', 'time', isProxy ? (serverCpu / result.requests) * 1e6 : Number.NaN);
    put('busy', 'machine busy', 'cores', 'size', machineBusyCores);
    log(`${scenario.padEnd(24)} ${target.name.padEnd(16)} ${describeWrk(result)} server ${(serverCpu / wallSeconds).toFixed(2)} cores, sim ${simCores.toFixed(2)}, machine ${machineBusyCores.toFixed(2)}`);
  }

  private async pacedScenario(round: number, target: Target, streams: number): Promise<void> {
    const scenario = `paced 64×20ms n=${streams}`;
    const account = await cpuDuring([target.pid, this.settings.simPid], () =>
      runStreamLoad({
        url: target.url,
        concurrency: streams,
        ...PACED,
        durationMs: this.settings.pacedDurationMs,
        // Streams last ~1.3 s: the first round of each worker (connection set-up) is left out.
        warmupMs: 1300,
        rampMs: 1000,
        deadlineMs: this.settings.pacedDurationMs + 20_000,
      }),
    );
    const { result, wallSeconds, machineBusyCores } = account;
    const [serverCpu = 0, simCpu = 0] = account.processSeconds;
    const serverCores = serverCpu / wallSeconds;
    const simCores = simCpu / wallSeconds;
    this.raw.push({ round, scenario, target: target.name, result: { ...result, serverCores, simCores, machineBusyCores } });
    const put = (suffix: string, label: string, unit: string, kind: FigureKind, value: number): void =>
      this.book.put(`paced.n${streams}.${suffix}`, `${scenario} ${label}`, unit, kind, target.name, round, value);
    put('fc50', 'first content p50', 'ms', 'time', result.firstContentMs.p50);
    put('fc99', 'first content p99', 'ms', 'time', result.firstContentMs.p99);
    put('fb50', 'first byte p50', 'ms', 'time', result.firstByteMs.p50);
    put('fb99', 'first byte p99', 'ms', 'time', result.firstByteMs.p99);
    put('gap50', 'inter-chunk gap p50', 'ms', 'time', result.gapMs.p50);
    put('gap99', 'inter-chunk gap p99', 'ms', 'time', result.gapMs.p99);
    put('proxycores', 'proxy CPU', 'cores', 'size', target.name === 'direct' ? Number.NaN : serverCores);
    put('simcores', 'simulator CPU', 'cores', 'size', simCores);
    put('loadcores', 'load generator CPU', 'cores', 'size', result.cpuCores);
    put('busy', 'machine busy', 'cores', 'size', machineBusyCores);
    log(`${scenario.padEnd(24)} ${target.name.padEnd(16)} ${describeStreams(result)} server ${serverCores.toFixed(2)} cores, sim ${simCores.toFixed(2)}, machine ${machineBusyCores.toFixed(2)}`);
  }

  /**
   * RSS of a freshly started server, idle after a short warm-up vs. with N long paced streams
   * open, sampled every 250 ms while all N are open.
   */
  private async memoryScenario(round: number, recipe: ServerRecipe): Promise<void> {
    const scenario = `memory ${this.settings.memoryStreams} open streams`;
    const server = await launch(recipe, this.settings.pidFile);
    try {
      // Warm-up: both code paths JIT-compiled and the connection pools filled, as in service.
      await runWrk(recipe.url, this.nonStreamScript, 32, 1);
      await runWrk(recipe.url, this.streamScript, 32, 1);
      await sleep(1000);
      await this.measureMemory(round, scenario, recipe.name, server.pid);
    } finally {
      await server.stop();
    }
  }

  private async measureMemory(round: number, scenario: string, target: string, pid: number): Promise<void> {
    const idleKiB = residentKiB(pid);
    const samples: number[] = [];
    const spawnedAt = performance.now();
    // The first stream starts right after the generator boots and ends after tokens × pacing.
    const windowEnd = spawnedAt + MEMORY.tokens * MEMORY.interTokenMs;
    let sampler: NodeJS.Timeout | undefined;
    const result = await runStreamLoad(
      {
        url: this.settings.memoryServers.find((recipe) => recipe.name === target)!.url,
        concurrency: this.settings.memoryStreams,
        ...MEMORY,
        durationMs: 0,
        warmupMs: 0,
        rampMs: 500,
        deadlineMs: 30_000,
        once: true,
      },
      () => {
        const sample = (): void => {
          if (performance.now() > windowEnd) return clearInterval(sampler);
          samples.push(residentKiB(pid));
        };
        sample();
        sampler = setInterval(sample, 250);
      },
    );
    clearInterval(sampler);
    const loaded = spreadOf(samples);
    const perStream = (loaded.median - idleKiB) / this.settings.memoryStreams;
    this.raw.push({ round, scenario, target, result: { idleKiB, samples, perStreamKiB: perStream, load: result } });
    const put = (suffix: string, label: string, unit: string, value: number): void =>
      this.book.put(`memory.${suffix}`, `${scenario}: ${label}`, unit, 'size', target, round, value);
    put('idle', 'RSS idle', 'MiB', idleKiB / 1024);
    put('loaded', 'RSS loaded (median of samples)', 'MiB', loaded.median / 1024);
    put('perstream', 'RSS per open stream', 'KiB', perStream);
    log(`${scenario.padEnd(24)} ${target.padEnd(16)} idle ${(idleKiB / 1024).toFixed(1)} MiB, loaded ${(loaded.median / 1024).toFixed(1)} MiB (${samples.length} samples, max ${(loaded.max / 1024).toFixed(1)}), ${perStream.toFixed(1)} KiB/stream, failed ${result.failed}`);
  }

  report(): void {
    const figures = this.book.all();
    const targets = this.settings.targets.map((target) => target.name);
    const comparisons: Comparison[] = [...COMPARISONS];
    if (targets.includes(FLAGS_TARGET)) comparisons.push({ name: 'flags vs tollbooth', through: FLAGS_TARGET, base: 'tollbooth' });
    const rate = (id: string): Bar => ({ name: '', figureId: id, comparison: COMPARISONS[0], target: undefined, limit: 0, direction: 'at-least' });
    const added = { name: 'tollbooth vs direct', through: 'tollbooth', base: 'direct' };
    const bars: Bar[] = [
      { ...rate('nonstream.c32.rps'), name: 'non-streaming throughput c=32, tollbooth ÷ nginx', limit: 0.3 },
      { ...rate('stream.c32.rps'), name: 'streaming throughput (64 unpaced chunks) c=32, tollbooth ÷ nginx', limit: 0.65 },
      { name: 'added first-content p50 at 100 paced streams (ms)', figureId: 'paced.n100.fc50', comparison: added, target: undefined, limit: 1, direction: 'at-most' },
      { name: 'added first-content p99 at 100 paced streams (ms)', figureId: 'paced.n100.fc99', comparison: added, target: undefined, limit: 5, direction: 'at-most' },
      { name: 'RSS per concurrent open stream, tollbooth (KiB)', figureId: 'memory.perstream', comparison: undefined, target: 'tollbooth', limit: 64, direction: 'at-most' },
    ];
    const outcomes = judge(bars, figures);
    const table = figureTable(figures, targets, comparisons);
    const busy = this.backgroundCores.map((cores) => cores.toFixed(2)).join(', ');
    const barText = `${barLines(outcomes)}\n\nBackground load before each round (machine busy cores, benchmark idle): ${busy}${
      this.backgroundCores.some((cores) => cores > BACKGROUND_LIMIT) ? ' — some rounds ran next to other work: treat their figures with care' : ''
    }`;
    process.stdout.write(`\n${table}\n\nBars (median over rounds):\n${barText}\n`);

    mkdirSync(this.settings.outDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const json = join(this.settings.outDir, `results-${stamp}.json`);
    const markdown = join(this.settings.outDir, `results-${stamp}.md`);
    const meta = { ...this.settings.meta, backgroundCores: this.backgroundCores, date: new Date().toISOString(), rounds: this.settings.rounds, wrkSeconds: this.settings.wrkSeconds, targets: this.settings.targets };
    const summary = figures.map((figure) => ({
      ...figure,
      spreads: Object.fromEntries(Object.entries(figure.perTarget).map(([name, values]) => [name, spreadOf(values)])),
    }));
    writeFileSync(json, `${JSON.stringify({ meta, figures: summary, bars: outcomes, runs: this.raw }, null, 2)}\n`);
    writeFileSync(markdown, `${table}\n\n${barText}\n`);
    process.stdout.write(`\nresults: ${json}\n         ${markdown}\n`);
  }
}

/** Above this many busy cores with the benchmark idle, another workload shares the machine. */
const BACKGROUND_LIMIT = 0.15;

async function backgroundLoad(): Promise<number> {
  const before = machineCpuSeconds().busy;
  const startedAt = performance.now();
  await sleep(1000);
  return (machineCpuSeconds().busy - before) / ((performance.now() - startedAt) / 1000);
}

function describeWrk(result: WrkResult): string {
  const errors = result.errors > 0 ? ` ERRORS ${result.errors}` : '';
  return `${result.requestsPerSecond.toFixed(0).padStart(6)} req/s p50 ${result.p50Ms.toFixed(2)} p99 ${result.p99Ms.toFixed(2)} ms${errors}`;
}

function describeStreams(result: StreamLoadResult): string {
  const errors = result.failed > 0 ? ` FAILED ${result.failed} (${result.firstErrors.join('; ')})` : '';
  return (
    `${result.measured} streams, first content p50 ${result.firstContentMs.p50.toFixed(2)} p99 ${result.firstContentMs.p99.toFixed(2)}, ` +
    `gap p99 ${result.gapMs.p99.toFixed(2)} ms, loadgen ${result.cpuCores.toFixed(2)} cores${errors}`
  );
}

const started = performance.now();
const bench = new Bench(readSettings());
await bench.run();
bench.report();
log(`\nbenchmark took ${((performance.now() - started) / 1000).toFixed(0)} s`);
