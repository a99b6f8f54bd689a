/**
 * The benchmark orchestrator, started by run.sh once the simulator, the gateway(s) and nginx are
 * listening (each its own process). It measures every target in turn inside each scenario, in
 * rounds that alternate the target order, so drift (thermal, page cache, neighbours) spreads
 * over all targets instead of favouring whichever ran first. It prints the figures with their
 * ratios and the bars, and writes everything as JSON under test/bench/out/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareAccuracy, distribution, parseAccessLog, TPOT_TOLERANCE, TTFT_TOLERANCE_MS, type AccessLine, type AccuracyResult, type TruthTiming } from './accuracy.js';
import { barLines, COMPARISONS, FigureBook, figureTable, judge, type Bar, type Comparison, type Figure, type FigureKind } from './report.js';
import { CHAT_PATH, chatBody, simHeaders } from './scenario.js';
import { spreadOf } from './stats.js';
import { launch, parseRecipes, type ServerRecipe } from './fresh-server.js';
import { measurePaced, measureWrk, openStreamsMemory, parseTargets, scriptEnvironment, warmUp, type MeasureContext, type Target } from './measure.js';
import { cpuDuring, machineCpuSeconds } from './procfs.js';
import type { StreamLoadResult } from './stream-load.js';
import { runStreamLoad } from './stream-load-process.js';
import { runWrk, writeWrkScript, type WrkResult } from './wrk.js';

/** The gateway of the accuracy scenario: defaults, its stdout (access log) captured to `log`. */
interface AccuracyGateway {
  readonly url: string;
  readonly pid: number;
  readonly log: string;
}

interface Settings {
  readonly targets: readonly Target[];
  readonly accuracy: AccuracyGateway;
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

const env = scriptEnvironment('test/bench/run.sh');

function readAccuracy(text: string): AccuracyGateway {
  const parsed = JSON.parse(text) as Partial<Record<keyof AccuracyGateway, unknown>>;
  if (typeof parsed.url !== 'string' || typeof parsed.pid !== 'number' || typeof parsed.log !== 'string') {
    throw new Error(`bad BENCH_ACCURACY ${text}`);
  }
  return { url: parsed.url, pid: parsed.pid, log: parsed.log };
}

function readSettings(): Settings {
  return {
    targets: parseTargets(env('BENCH_TARGETS')),
    accuracy: readAccuracy(env('BENCH_ACCURACY')),
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
      accessLog:
        'tollbooth and tollbooth-off: access log on (default), stdout → /dev/null; the accuracy scenario\'s own gateway (defaults) writes it to a file',
    },
  };
}

/** The experimental gateway (BENCH_NODE_FLAGS) runs only where the flags are expected to matter. */
const FLAGS_TARGET = 'tollbooth-flags';
/** The gateway with `metrics.enabled: false`: only in the scenarios the on ÷ off figures need. */
const OFF_TARGET = 'tollbooth-off';
const OFF_SCENARIOS = new Set(['nonstream.c32', 'nonstream.c128', 'stream.c32', 'paced.n100']);
const FLAGS_SCENARIOS = new Set(['nonstream.c1', 'paced.n100', 'paced.n1000']);

/** Whether a target takes part in a scenario (the main targets take part in all). */
function runsIn(target: Target, scenario: string): boolean {
  if (target.name === OFF_TARGET) return OFF_SCENARIOS.has(scenario);
  if (target.name === FLAGS_TARGET) return FLAGS_SCENARIOS.has(scenario);
  return true;
}

/** Accuracy loads: a few staggered streams, and 100 concurrent ones (the paced scenario's load). */
const ACCURACY_LOADS = [
  { name: 'low', streams: 10, durationMs: 6000 },
  { name: 'n100', streams: 100, durationMs: 4500 },
] as const;
const NON_STREAM_CONCURRENCY = [1, 32, 128] as const;
const PACED_STREAMS = [100, 1000] as const;
const PACED = { tokens: 64, interTokenMs: 20, ttftMs: 5 } as const;
const MEMORY = { tokens: 64, interTokenMs: 100, ttftMs: 5 } as const;


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
  /** Accuracy results by load name, one per round. */
  private readonly accuracy = new Map<string, AccuracyResult[]>();
  /** Busy cores of the machine while every benchmark process idles, sampled before each round. */
  private readonly backgroundCores: number[] = [];
  /** Measurements during which processes outside the benchmark used noticeable CPU. */
  private readonly disturbed: string[] = [];
  /** Every long-lived benchmark server, for the foreign-CPU check. */
  private readonly benchPids: number[];
  private readonly measuring: MeasureContext;
  private readonly nonStreamScript: string;
  private readonly streamScript: string;

  constructor(private readonly settings: Settings) {
    this.book = new FigureBook(settings.rounds);
    this.benchPids = [...new Set([settings.simPid, settings.accuracy.pid, ...settings.targets.map((target) => target.pid)])];
    this.measuring = { simPid: settings.simPid, benchPids: this.benchPids };
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
        const id = `nonstream.c${connections}`;
        for (const target of order) {
          if (runsIn(target, id)) await this.wrkScenario(round, target, `non-stream c=${connections}`, id, this.nonStreamScript, connections);
        }
      }
      for (const target of order) {
        if (runsIn(target, 'stream.c32')) await this.wrkScenario(round, target, 'stream 64 unpaced c=32', 'stream.c32', this.streamScript, 32);
      }
      for (const streams of PACED_STREAMS) {
        for (const target of order) if (runsIn(target, `paced.n${streams}`)) await this.pacedScenario(round, target, streams);
      }
      for (const load of ACCURACY_LOADS) await this.accuracyScenario(round, load);
      const servers = round % 2 === 0 ? [...this.settings.memoryServers] : [...this.settings.memoryServers].reverse();
      for (const recipe of servers) await this.memoryScenario(round, recipe);
    }
  }

  private async wrkScenario(round: number, target: Target, scenario: string, id: string, script: string, connections: number): Promise<void> {
    const { result, wallSeconds, machineBusyCores, foreignCores, serverCpuSeconds: serverCpu, simCores } = await measureWrk(this.measuring, target, script, connections, this.settings.wrkSeconds);
    this.noteForeign(round, scenario, target.name, foreignCores);
    this.raw.push({ round, scenario, target: target.name, result: { ...result, serverCpuSeconds: serverCpu, wallSeconds, simCores, machineBusyCores, foreignCores } });
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
    const { result, wallSeconds, machineBusyCores, foreignCores, serverCpuSeconds: serverCpu, simCores } = await measurePaced(this.measuring, target, streams, PACED, this.settings.pacedDurationMs);
    const serverCores = serverCpu / wallSeconds;
    this.noteForeign(round, scenario, target.name, foreignCores);
    this.raw.push({ round, scenario, target: target.name, result: { ...result, serverCores, simCores, machineBusyCores, foreignCores } });
    const put = (suffix: string, label: string, unit: string, kind: FigureKind, value: number): void =>
      this.book.put(`paced.n${streams}.${suffix}`, `${scenario} ${label}`, unit, kind, target.name, round, value);
    put('fc50', 'first content p50', 'ms', 'time', result.firstContentMs.p50);
    put('fc99', 'first content p99', 'ms', 'time', result.firstContentMs.p99);
    put('fb50', 'first byte p50', 'ms', 'time', result.firstByteMs.p50);
    put('fb99', 'first byte p99', 'ms', 'time', result.firstByteMs.p99);
    put('gap50', 'inter-chunk gap p50', 'ms', 'time', result.gapMs.p50);
    put('gap99', 'inter-chunk gap p99', 'ms', 'time', result.gapMs.p99);
    put('proxycores', 'proxy CPU', 'cores', 'size', target.name === 'direct' ? Number.NaN : serverCores);
    // Every stream started in the run is served, measured or not, so all of them share the CPU.
    put('cpustream', 'proxy CPU per stream', 'µs', 'time', target.name === 'direct' ? Number.NaN : (serverCpu / result.completed) * 1e6);
    put('simcores', 'simulator CPU', 'cores', 'size', simCores);
    put('loadcores', 'load generator CPU', 'cores', 'size', result.cpuCores);
    put('busy', 'machine busy', 'cores', 'size', machineBusyCores);
    log(`${scenario.padEnd(24)} ${target.name.padEnd(16)} ${describeStreams(result)} server ${serverCores.toFixed(2)} cores, sim ${simCores.toFixed(2)}, machine ${machineBusyCores.toFixed(2)}`);
  }

  /**
   * Paced streams (64 × 20 ms, 5 ms prefill, `x-sim-tokens: 64`) through the accuracy gateway,
   * each with its own x-request-id; then each measured stream's access-log line (ttft_ms,
   * tpot_ms, output_tokens) is compared with the TTFT the load generator saw and with the
   * simulator's truth record. Runs right after the streams end: the simulator keeps only its
   * last `truthCapacity` (1000) records.
   */
  private async accuracyScenario(round: number, load: (typeof ACCURACY_LOADS)[number]): Promise<void> {
    const scenario = `accuracy ${load.name} (${load.streams} streams)`;
    const gateway = this.settings.accuracy;
    const account = await cpuDuring([gateway.pid, this.settings.simPid], () =>
      runStreamLoad({
        url: gateway.url,
        concurrency: load.streams,
        ...PACED,
        durationMs: load.durationMs,
        // Leave out each worker's first stream: its request start includes the TCP connect,
        // which the gateway cannot see (it starts its clock when the request arrives).
        warmupMs: 1300,
        rampMs: 1000,
        deadlineMs: load.durationMs + 20_000,
        idPrefix: `acc-r${round + 1}-${load.name}`,
      }),
      this.benchPids,
    );
    const { result, machineBusyCores, foreignCores } = account;
    this.noteForeign(round, scenario, 'tollbooth', foreignCores);
    const samples = (result.samples ?? []).map(([requestId, clientTtftMs]) => ({ requestId, clientTtftMs }));
    const ids = samples.map((sample) => sample.requestId);
    const access = await this.accessLines(ids);
    const truths = await this.truthRecords(ids);
    const accuracy = compareAccuracy(samples, access, truths);
    const list = this.accuracy.get(load.name) ?? [];
    list[round] = accuracy;
    this.accuracy.set(load.name, list);
    const { ttftErrorsMs: _ttft, tpotRelativeErrors: _tpot, ...summary } = accuracy;
    this.raw.push({ round, scenario, target: 'tollbooth-accuracy', result: { load: result, accuracy: summary, machineBusyCores } });
    const put = (suffix: string, label: string, unit: string, value: number): void =>
      this.book.put(`accuracy.${load.name}.${suffix}`, `${scenario} ${label}`, unit, 'size', 'tollbooth', round, value);
    put('ttft.within', `share with |TTFT error| ≤ ${TTFT_TOLERANCE_MS} ms`, '%', accuracy.ttftErrorMs.withinShare * 100);
    put('tpot.within', `share with TPOT error ≤ ${TPOT_TOLERANCE * 100}%`, '%', accuracy.tpotRelativeError.withinShare * 100);
    const problems = accuracy.firstProblems.length > 0 ? ` (${accuracy.firstProblems.join('; ')})` : '';
    log(
      `${scenario.padEnd(24)} ${'tollbooth'.padEnd(16)} ${samples.length} streams, |TTFT err| p50 ${accuracy.ttftErrorMs.p50.toFixed(3)} p99 ${accuracy.ttftErrorMs.p99.toFixed(3)} ms, ` +
        `TPOT err p50 ${(accuracy.tpotRelativeError.p50 * 100).toFixed(3)}% p99 ${(accuracy.tpotRelativeError.p99 * 100).toFixed(3)}%, ` +
        `token mismatches ${accuracy.tokenMismatches}, missing ${accuracy.missing}${problems}, machine ${machineBusyCores.toFixed(2)}`,
    );
  }

  /** The accuracy gateway writes its log asynchronously: wait (≤ 5 s) until every id has its line. */
  private async accessLines(ids: readonly string[]): Promise<Map<string, AccessLine>> {
    let lines = parseAccessLog(readFileSync(this.settings.accuracy.log, 'utf8'));
    for (let attempt = 0; attempt < 25 && ids.some((id) => !lines.has(id)); attempt++) {
      await sleep(200);
      lines = parseAccessLog(readFileSync(this.settings.accuracy.log, 'utf8'));
    }
    return lines;
  }

  /** GET /sim/truth/:id for every id, a few at a time. */
  private async truthRecords(ids: readonly string[]): Promise<Map<string, TruthTiming>> {
    const simUrl = this.settings.targets.find((target) => target.name === 'direct')?.url;
    if (simUrl === undefined) throw new Error('no direct target: the accuracy scenario needs the simulator');
    const truths = new Map<string, TruthTiming>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const response = await fetch(new URL(`/sim/truth/${encodeURIComponent(id)}`, simUrl));
        if (response.ok) truths.set(id, (await response.json()) as TruthTiming);
        else await response.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return truths;
  }

  /**
   * RSS of a freshly started server, idle after a short warm-up vs. with N long paced streams
   * open, sampled every 250 ms while all N are open.
   */
  private async memoryScenario(round: number, recipe: ServerRecipe): Promise<void> {
    const scenario = `memory ${this.settings.memoryStreams} open streams`;
    const server = await launch(recipe, this.settings.pidFile);
    try {
      await warmUp(recipe.url, this.nonStreamScript, this.streamScript);
      await this.measureMemory(round, scenario, recipe.name, server.pid);
    } finally {
      await server.stop();
    }
  }

  private async measureMemory(round: number, scenario: string, target: string, pid: number): Promise<void> {
    const url = this.settings.memoryServers.find((recipe) => recipe.name === target)!.url;
    const { idleKiB, samples, perStreamKiB: perStream, load: result } = await openStreamsMemory(pid, url, this.settings.memoryStreams, MEMORY);
    const loaded = spreadOf(samples);
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
    const mainFigures = figures.filter((figure) => !figure.id.startsWith('accuracy.'));
    const targets = this.settings.targets.map((target) => target.name);
    const comparisons: Comparison[] = [...COMPARISONS];
    if (targets.includes(OFF_TARGET)) comparisons.push(ON_VS_OFF, { ...ON_VS_OFF, name: 'on ÷ off', asRatio: true });
    if (targets.includes(FLAGS_TARGET)) comparisons.push({ name: 'flags vs tollbooth', through: FLAGS_TARGET, base: 'tollbooth' });
    const outcomes = judge(this.bars(targets), figures);
    const table = figureTable(mainFigures, targets, comparisons);
    const accuracyText = this.accuracyTable();
    const busy = this.backgroundCores.map((cores) => cores.toFixed(2)).join(', ');
    const barText = `${barLines(outcomes)}\n\nBackground load before each round (machine busy cores, benchmark idle): ${busy}${
      this.backgroundCores.some((cores) => cores > BACKGROUND_LIMIT) ? ' — some rounds ran next to other work: treat their figures with care' : ''
    }\nMeasurements with foreign CPU > ${FOREIGN_LIMIT} cores (another workload competed): ${this.disturbed.length === 0 ? 'none' : this.disturbed.join('; ')}`;
    process.stdout.write(`\n${table}\n\nAccuracy (gateway access log vs load generator and simulator truth):\n${accuracyText}\n\nBars (median over rounds):\n${barText}\n`);

    mkdirSync(this.settings.outDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const json = join(this.settings.outDir, `results-${stamp}.json`);
    const markdown = join(this.settings.outDir, `results-${stamp}.md`);
    const meta = { ...this.settings.meta, backgroundCores: this.backgroundCores, date: new Date().toISOString(), rounds: this.settings.rounds, wrkSeconds: this.settings.wrkSeconds, targets: this.settings.targets };
    const summary = figures.map((figure) => ({
      ...figure,
      spreads: Object.fromEntries(Object.entries(figure.perTarget).map(([name, values]) => [name, spreadOf(values)])),
    }));
    const accuracy = Object.fromEntries([...this.accuracy].map(([load, rounds]) => [load, { pooled: pooled(rounds), rounds: rounds.map(withoutRaw) }]));
    writeFileSync(json, `${JSON.stringify({ meta, figures: summary, bars: outcomes, accuracy, runs: this.raw }, null, 2)}\n`);
    writeFileSync(markdown, `${table}\n\n${accuracyText}\n\n${barText}\n`);
    process.stdout.write(`\nresults: ${json}\n         ${markdown}\n`);
  }

  private noteForeign(round: number, scenario: string, target: string, foreignCores: number): void {
    if (!(foreignCores > FOREIGN_LIMIT)) return;
    const note = `round ${round + 1} ${scenario} ${target}: ${foreignCores.toFixed(2)} cores`;
    this.disturbed.push(note);
    log(`   WARNING: processes outside the benchmark used CPU during this measurement (${note})`);
  }

  private bars(targets: readonly string[]): Bar[] {
    const rate = (id: string): Bar => ({ name: '', figureId: id, comparison: COMPARISONS[0], target: undefined, limit: 0, direction: 'at-least' });
    const added = { name: 'tollbooth vs direct', through: 'tollbooth', base: 'direct' };
    const bars: Bar[] = [
      { ...rate('nonstream.c32.rps'), name: 'non-streaming throughput c=32, tollbooth ÷ nginx', limit: 0.3 },
      { ...rate('stream.c32.rps'), name: 'streaming throughput (64 unpaced chunks) c=32, tollbooth ÷ nginx', limit: 0.65 },
      { name: 'added first-content p50 at 100 paced streams (ms)', figureId: 'paced.n100.fc50', comparison: added, target: undefined, limit: 1, direction: 'at-most' },
      { name: 'added first-content p99 at 100 paced streams (ms)', figureId: 'paced.n100.fc99', comparison: added, target: undefined, limit: 5, direction: 'at-most' },
      { name: 'RSS per concurrent open stream, tollbooth (KiB)', figureId: 'memory.perstream', comparison: undefined, target: 'tollbooth', limit: 64, direction: 'at-most' },
    ];
    if (targets.includes(OFF_TARGET)) {
      const ratio = { ...ON_VS_OFF, asRatio: true };
      bars.push(
        { name: 'streaming throughput (64 unpaced chunks) c=32, metrics on ÷ off', figureId: 'stream.c32.rps', comparison: ratio, target: undefined, limit: 0.9, direction: 'at-least' },
        { name: 'RSS per open stream, metrics on ÷ off', figureId: 'memory.perstream', comparison: ratio, target: undefined, limit: 0.1, direction: 'within' },
      );
    }
    for (const load of ACCURACY_LOADS) {
      const at = load.name === 'low' ? `low load (${load.streams} staggered streams)` : `${load.streams} paced streams`;
      bars.push(
        { name: `share of requests with |TTFT error| ≤ ${TTFT_TOLERANCE_MS} ms, ${at} (%)`, figureId: `accuracy.${load.name}.ttft.within`, comparison: undefined, target: 'tollbooth', limit: 95, direction: 'at-least' },
        { name: `share of requests with TPOT error ≤ ${TPOT_TOLERANCE * 100}%, ${at} (%)`, figureId: `accuracy.${load.name}.tpot.within`, comparison: undefined, target: 'tollbooth', limit: 95, direction: 'at-least' },
      );
    }
    return bars;
  }

  /** Per load: the error distributions pooled over all rounds, then each round's. */
  private accuracyTable(): string {
    const header = ['load', 'rounds', 'requests', '|TTFT err| p50 / p95 / p99 / max (ms)', `≤ ${TTFT_TOLERANCE_MS} ms`, 'client − gateway TTFT, median (ms)', 'TPOT rel. err p50 / p95 / p99 / max', `≤ ${TPOT_TOLERANCE * 100}%`, 'output_tokens mismatches', 'missing'];
    const ms = (value: number): string => value.toFixed(3);
    const pct = (value: number): string => `${(value * 100).toFixed(3)}%`;
    const share = (value: number): string => `${(value * 100).toFixed(1)}%`;
    const rows: string[][] = [];
    for (const load of ACCURACY_LOADS) {
      const rounds = this.accuracy.get(load.name) ?? [];
      const describe = (label: string, result: AccuracyResult): string[] => [
        `${load.name} (${load.streams} streams)`,
        label,
        String(result.requests),
        [result.ttftErrorMs.p50, result.ttftErrorMs.p95, result.ttftErrorMs.p99, result.ttftErrorMs.max].map(ms).join(' / '),
        share(result.ttftErrorMs.withinShare),
        ms(result.ttftSignedMedianMs),
        [result.tpotRelativeError.p50, result.tpotRelativeError.p95, result.tpotRelativeError.p99, result.tpotRelativeError.max].map(pct).join(' / '),
        share(result.tpotRelativeError.withinShare),
        String(result.tokenMismatches),
        String(result.missing),
      ];
      rows.push(describe('all (pooled)', pooled(rounds)));
      rounds.forEach((result, round) => rows.push(describe(`round ${round + 1}`, result)));
    }
    return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
  }
}

const ON_VS_OFF: Comparison = { name: 'on vs off', through: 'tollbooth', base: OFF_TARGET };

/** All rounds' requests as one sample. */
function pooled(rounds: readonly AccuracyResult[]): AccuracyResult {
  const present = rounds.filter((result): result is AccuracyResult => result !== undefined);
  const ttft = present.flatMap((result) => result.ttftErrorsMs);
  const tpot = present.flatMap((result) => result.tpotRelativeErrors);
  const signed = present.map((result) => result.ttftSignedMedianMs);
  return {
    // Pooled raw signed values are not kept; the median of the rounds' medians stands in.
    ttftSignedMedianMs: spreadOf(signed).median,
    requests: present.reduce((sum, result) => sum + result.requests, 0),
    ttftErrorMs: distribution(ttft, TTFT_TOLERANCE_MS),
    tpotRelativeError: distribution(tpot, TPOT_TOLERANCE),
    tokenMismatches: present.reduce((sum, result) => sum + result.tokenMismatches, 0),
    missing: present.reduce((sum, result) => sum + result.missing, 0),
    firstProblems: present.flatMap((result) => result.firstProblems).slice(0, 5),
    ttftErrorsMs: ttft,
    tpotRelativeErrors: tpot,
  };
}

function withoutRaw(result: AccuracyResult): Omit<AccuracyResult, 'ttftErrorsMs' | 'tpotRelativeErrors'> {
  const { ttftErrorsMs: _ttft, tpotRelativeErrors: _tpot, ...rest } = result;
  return rest;
}

/** Above this many busy cores with the benchmark idle, another workload shares the machine. */
const BACKGROUND_LIMIT = 0.15;
/** Above this many cores used by non-benchmark processes during a measurement, it is flagged. */
const FOREIGN_LIMIT = 0.1;

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
