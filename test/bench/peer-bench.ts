/**
 * The peer benchmark's orchestrator, started by run-peers.sh once the simulator and every peer
 * listen (each its own process): direct (the simulator), nginx, the Node floor (node:http + undici,
 * nothing else), vllm-router, Tollbooth (with and without 100 % tracing) and LiteLLM. Each round
 * measures every target in turn in every scenario, the order reversed every other round; figures
 * are medians over rounds with their ranges, and comparisons with direct are paired within a
 * round. It prints the peer table and the full figure table, writes both with the raw runs as
 * JSON under test/bench/out/, and draws the chart (PNG).
 *
 * Scenarios (the proxy benchmark's, through measure.ts): non-streaming chat of 16 tokens with wrk
 * at c = 1 and c = 32; streams of 64 unpaced chunks with wrk at c = 32; 10 and 100 concurrent
 * streams of 64 chunks paced 20 ms apart after a 5 ms prefill (stream-load.ts), with each
 * gateway's own mean TTFT over the run read from its Prometheus histogram where it has one; and a
 * fresh server per round holding N streams open (RSS per stream). Under the table, issue 24's bars
 * (Tollbooth against vllm-router) with the Node floor's same comparisons beside them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { measurePaced, measureWrk, openStreamsMemory, parseTargets, scriptEnvironment, warmUp, type MeasureContext, type Target } from './measure.js';
import { histogramTotals, meanMsBetween, type HistogramTotals } from './peers/exposition.js';
import { writeChartPng, type ChartPanel } from './peers/chart.js';
import { routerBars } from './peers/router-bars.js';
import { compare, figureTable, FigureBook, formatSpread, runBenchmark, type Comparison, type FigureKind } from './report.js';
import { launch, parseRecipes, type ServerRecipe } from './fresh-server.js';
import { CHAT_PATH, chatBody, simHeaders } from './scenario.js';
import { spreadOf, type Spread } from './stats.js';
import { runWrk, writeWrkScript } from './wrk.js';

/** A target and, where it has one, the histogram in which it records its own TTFT. */
interface PeerTarget extends Target {
  readonly ttft?: { readonly url: string; readonly metric: string };
}

interface Settings {
  readonly targets: readonly PeerTarget[];
  readonly memoryServers: readonly ServerRecipe[];
  readonly simPid: number;
  /** Benchmark processes that are no target (the OTLP sink): their CPU is not foreign. */
  readonly helperPids: readonly number[];
  readonly workDir: string;
  readonly outDir: string;
  readonly chartFile: string;
  readonly apiKey: string;
  readonly rounds: number;
  readonly wrkSeconds: number;
  readonly pacedDurationMs: number;
  readonly memoryStreams: number;
  readonly pidFile: string;
  readonly quick: boolean;
  readonly meta: Readonly<Record<string, unknown>>;
}

const env = scriptEnvironment('test/bench/run-peers.sh');

function readTargets(text: string): PeerTarget[] {
  return parseTargets<PeerTarget>(text, (target, entry) => {
    const ttft = entry.ttft as { url?: unknown; metric?: unknown } | undefined;
    if (ttft === undefined) return target;
    if (typeof ttft.url !== 'string' || typeof ttft.metric !== 'string') throw new Error(`bad ttft of ${target.name}`);
    return { ...target, ttft: { url: ttft.url, metric: ttft.metric } };
  });
}

function readSettings(): Settings {
  const targets = readTargets(env('BENCH_TARGETS'));
  if (targets[0]?.name !== DIRECT) throw new Error('the first target must be direct (the simulator): every comparison is against it');
  return {
    targets,
    memoryServers: parseRecipes(env('BENCH_MEMORY_SERVERS')),
    simPid: Number(env('BENCH_SIM_PID')),
    helperPids: env('BENCH_HELPER_PIDS', '').split(',').filter((pid) => pid !== '').map(Number),
    workDir: env('BENCH_WORK'),
    outDir: env('BENCH_OUT_DIR'),
    chartFile: env('BENCH_CHART'),
    apiKey: env('BENCH_API_KEY'),
    rounds: Number(env('BENCH_ROUNDS', '3')),
    wrkSeconds: Number(env('BENCH_WRK_SECONDS', '4')),
    pacedDurationMs: Number(env('BENCH_PACED_MS', '4500')),
    memoryStreams: Number(env('BENCH_MEMORY_STREAMS', '1000')),
    pidFile: env('BENCH_PID_FILE'),
    quick: env('BENCH_QUICK', '0') === '1',
    meta: {
      nproc: env('BENCH_NPROC', ''),
      node: process.version,
      versions: JSON.parse(env('BENCH_VERSIONS', '{}')) as unknown,
      commit: env('BENCH_GIT_COMMIT', ''),
      pinning: 'none: wrk, the load generator and every server float over all cores',
    },
  };
}

const DIRECT = 'direct';
const PACED_STREAMS = [10, 100] as const;
const PACED = { tokens: 64, interTokenMs: 20, ttftMs: 5 } as const;
const MEMORY = { tokens: 64, interTokenMs: 100, ttftMs: 5 } as const;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

class PeerBench {
  private readonly book: FigureBook;
  private readonly raw: { round: number; scenario: string; target: string; result: unknown }[] = [];
  private readonly loadAverages: (readonly number[])[] = [];
  private readonly disturbed: string[] = [];
  private readonly bench: MeasureContext;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly nonStreamScript: string;
  private readonly streamScript: string;

  constructor(private readonly settings: Settings) {
    this.book = new FigureBook(settings.rounds);
    this.bench = { simPid: settings.simPid, benchPids: [...new Set([settings.simPid, ...settings.helperPids, ...settings.targets.map((target) => target.pid)])] };
    this.headers = { authorization: `Bearer ${settings.apiKey}` };
    this.nonStreamScript = join(settings.workDir, 'non-stream.lua');
    this.streamScript = join(settings.workDir, 'stream.lua');
    writeWrkScript(this.nonStreamScript, { path: CHAT_PATH, body: chatBody(false), headers: { ...simHeaders({ tokens: 16, interTokenMs: 0, ttftMs: 0 }), ...this.headers } });
    writeWrkScript(this.streamScript, { path: CHAT_PATH, body: chatBody(true), headers: { ...simHeaders({ tokens: 64, interTokenMs: 0, ttftMs: 0 }), ...this.headers } });
  }

  async run(): Promise<void> {
    for (let round = 0; round < this.settings.rounds; round++) {
      const roundStarted = performance.now();
      const order = round % 2 === 0 ? [...this.settings.targets] : [...this.settings.targets].reverse();
      this.loadAverages.push(loadavg());
      log(`\n== round ${round + 1}/${this.settings.rounds}: ${order.map((target) => target.name).join(' → ')} (load average ${loadavg().map((value) => value.toFixed(2)).join(' ')})`);
      // Unmeasured warm-up: every target's connections open and code compiled before the round.
      for (const target of order) await runWrk(target.url, this.nonStreamScript, 32, this.settings.quick ? 1 : 2);
      for (const connections of [1, 32]) {
        for (const target of order) await this.wrkScenario(round, target, `non-stream c=${connections}`, `nonstream.c${connections}`, this.nonStreamScript, connections);
      }
      for (const target of order) await this.wrkScenario(round, target, 'stream 64 unpaced c=32', 'stream.c32', this.streamScript, 32);
      for (const streams of PACED_STREAMS) for (const target of order) await this.pacedScenario(round, target, streams);
      const servers = round % 2 === 0 ? [...this.settings.memoryServers] : [...this.settings.memoryServers].reverse();
      for (const recipe of servers) await this.memoryScenario(round, recipe);
      log(`round ${round + 1} took ${((performance.now() - roundStarted) / 1000).toFixed(0)} s`);
    }
    this.loadAverages.push(loadavg());
  }

  private put(id: string, label: string, unit: string, kind: FigureKind, target: string, round: number, value: number): void {
    this.book.put(id, label, unit, kind, target, round, value);
  }

  private noteForeign(round: number, scenario: string, target: string, foreignCores: number): void {
    if (!(foreignCores > FOREIGN_LIMIT)) return;
    const note = `round ${round + 1} ${scenario} ${target}: ${foreignCores.toFixed(2)} cores`;
    this.disturbed.push(note);
    log(`   WARNING: processes outside the benchmark used CPU during this measurement (${note})`);
  }

  private async wrkScenario(round: number, target: Target, scenario: string, id: string, script: string, connections: number): Promise<void> {
    const run = await measureWrk(this.bench, target, script, connections, this.settings.wrkSeconds);
    const { result } = run;
    this.noteForeign(round, scenario, target.name, run.foreignCores);
    this.raw.push({ round, scenario, target: target.name, result: { ...result, serverCpuSeconds: run.serverCpuSeconds, wallSeconds: run.wallSeconds, simCores: run.simCores, machineBusyCores: run.machineBusyCores, foreignCores: run.foreignCores } });
    const isProxy = target.name !== DIRECT;
    this.put(`${id}.rps`, `${scenario} throughput`, 'req/s', 'rate', target.name, round, result.requestsPerSecond);
    this.put(`${id}.p50`, `${scenario} latency p50`, 'ms', 'time', target.name, round, result.p50Ms);
    this.put(`${id}.p99`, `${scenario} latency p99`, 'ms', 'time', target.name, round, result.p99Ms);
    this.put(`${id}.cpu`, `${scenario} proxy CPU per request`, 'µs', 'time', target.name, round, isProxy ? (run.serverCpuSeconds / result.requests) * 1e6 : Number.NaN);
    this.put(`${id}.errors`, `${scenario} errors (non-2xx, socket)`, 'count', 'size', target.name, round, result.errors);
    const errors = result.errors > 0 ? ` ERRORS ${result.errors}` : '';
    log(
      `${scenario.padEnd(24)} ${target.name.padEnd(18)} ${result.requestsPerSecond.toFixed(0).padStart(6)} req/s p50 ${result.p50Ms.toFixed(2)} p99 ${result.p99Ms.toFixed(2)} ms${errors}, ` +
        `server ${(run.serverCpuSeconds / run.wallSeconds).toFixed(2)} cores, sim ${run.simCores.toFixed(2)}, machine ${run.machineBusyCores.toFixed(2)}`,
    );
  }

  private async pacedScenario(round: number, target: PeerTarget, streams: number): Promise<void> {
    const scenario = `paced 64×20ms n=${streams}`;
    const before = await this.ttftTotals(target);
    const run = await measurePaced(this.bench, target, streams, PACED, this.settings.pacedDurationMs, { headers: this.headers });
    const after = await this.ttftTotals(target);
    const { result } = run;
    const ownTtftMs = before === undefined || after === undefined ? Number.NaN : meanMsBetween(before, after);
    this.noteForeign(round, scenario, target.name, run.foreignCores);
    this.raw.push({ round, scenario, target: target.name, result: { ...result, serverCpuSeconds: run.serverCpuSeconds, simCores: run.simCores, machineBusyCores: run.machineBusyCores, foreignCores: run.foreignCores, ownTtftMs } });
    const id = `paced.n${streams}`;
    const isProxy = target.name !== DIRECT;
    this.put(`${id}.fc50`, `${scenario} first content p50`, 'ms', 'time', target.name, round, result.firstContentMs.p50);
    this.put(`${id}.fc99`, `${scenario} first content p99`, 'ms', 'time', target.name, round, result.firstContentMs.p99);
    this.put(`${id}.gap99`, `${scenario} inter-chunk gap p99`, 'ms', 'time', target.name, round, result.gapMs.p99);
    // Every stream started in the run is served, measured or not, so all of them share the CPU.
    this.put(`${id}.cpustream`, `${scenario} proxy CPU per stream`, 'ms', 'time', target.name, round, isProxy ? (run.serverCpuSeconds / result.completed) * 1e3 : Number.NaN);
    // The gateway's mean covers every stream of the run, the client's the measured ones (after the warm-up).
    this.put(`${id}.ownttft`, `${scenario} mean TTFT the gateway reports − the client's`, 'ms', 'time', target.name, round, ownTtftMs - result.firstContentMs.mean);
    this.put(`${id}.failed`, `${scenario} failed streams`, 'count', 'size', target.name, round, result.failed);
    // None measured: every worker's first stream outlasted the run (a saturated proxy).
    this.put(`${id}.measured`, `${scenario} streams measured (begun after the warm-up)`, 'count', 'size', target.name, round, result.measured);
    const failures = result.failed > 0 ? ` FAILED ${result.failed} (${result.firstErrors.join('; ')})` : '';
    const own = Number.isNaN(ownTtftMs) ? '' : `, its own TTFT mean ${ownTtftMs.toFixed(2)} vs client ${result.firstContentMs.mean.toFixed(2)} ms`;
    log(
      `${scenario.padEnd(24)} ${target.name.padEnd(18)} ${result.measured} streams, first content p50 ${result.firstContentMs.p50.toFixed(2)} p99 ${result.firstContentMs.p99.toFixed(2)} ms${own}${failures}, ` +
        `server ${(run.serverCpuSeconds / run.wallSeconds).toFixed(2)} cores, machine ${run.machineBusyCores.toFixed(2)}`,
    );
  }

  /** The target's TTFT histogram totals now, or undefined when it has none or its exposition cannot be read. */
  private async ttftTotals(target: PeerTarget): Promise<HistogramTotals | undefined> {
    if (target.ttft === undefined) return undefined;
    const response = await fetch(target.ttft.url, { headers: this.headers });
    if (!response.ok) {
      log(`   ${target.name}: ${target.ttft.url} answered ${response.status}`);
      await response.arrayBuffer();
      return undefined;
    }
    return histogramTotals(await response.text(), target.ttft.metric);
  }

  private async memoryScenario(round: number, recipe: ServerRecipe): Promise<void> {
    const scenario = `memory ${this.settings.memoryStreams} open streams`;
    const server = await launch(recipe, this.settings.pidFile);
    try {
      await warmUp(recipe.url, this.nonStreamScript, this.streamScript);
      const memory = await openStreamsMemory(server.pid, recipe.url, this.settings.memoryStreams, MEMORY, this.headers);
      this.raw.push({ round, scenario, target: recipe.name, result: memory });
      const loaded = spreadOf(memory.samples);
      // A server that cannot hold every stream open at once (no sample while all were open, or
      // failures) has no per-stream figure.
      const held = memory.load.failed === 0 && memory.samples.length > 0;
      this.put('memory.perstream', `${scenario}: RSS per open stream`, 'KiB', 'size', recipe.name, round, held ? memory.perStreamKiB : Number.NaN);
      this.put('memory.held', `${scenario}: all open at once (1) or not (0)`, 'count', 'size', recipe.name, round, held ? 1 : 0);
      this.put('memory.failed', `${scenario}: failed streams`, 'count', 'size', recipe.name, round, memory.load.failed);
      const failures = memory.load.failed > 0 ? `, FAILED ${memory.load.failed} (${memory.load.firstErrors.join('; ')})` : '';
      log(
        `${scenario.padEnd(24)} ${recipe.name.padEnd(18)} idle ${(memory.idleKiB / 1024).toFixed(1)} MiB, loaded ${(loaded.median / 1024).toFixed(1)} MiB (${memory.samples.length} samples), ${memory.perStreamKiB.toFixed(1)} KiB/stream${failures}`,
      );
    } finally {
      await server.stop();
    }
  }

  /** Prints and writes the tables; returns the chart's panels. */
  report(): ChartPanel[] {
    const figures = this.book.all();
    const names = this.settings.targets.map((target) => target.name);
    const proxies = names.filter((name) => name !== DIRECT);
    const versus = (through: string): Comparison => ({ name: `${through} vs direct`, through, base: DIRECT });
    const figure = (id: string): Parameters<typeof compare>[0] => {
      const found = figures.find((candidate) => candidate.id === id);
      if (found === undefined) throw new Error(`no figure ${id}`);
      return found;
    };
    // A ratio for rates, a difference for times, each paired with direct within a round.
    const paired = (id: string, target: string): Spread => compare(figure(id), versus(target));
    const own = (id: string, target: string): Spread => spreadOf(figure(id).perTarget[target] ?? []);
    const pair = (left: Spread, right: Spread, prefix = ''): string => `${formatSpread(left, prefix)} / ${formatSpread(right, prefix)}`;
    const ttftCell = (streams: number, target: string): string =>
      own(`paced.n${streams}.measured`, target).min === 0
        ? 'saturated: no stream began after the warm-up'
        : pair(paired(`paced.n${streams}.fc50`, target), paired(`paced.n${streams}.fc99`, target), '+');
    const n = this.settings.memoryStreams;
    const header = [
      'target',
      'req/s ÷ direct, c=32',
      'added p50 / p99 ms, c=1',
      'streams/s ÷ direct (64 unpaced chunks, c=32)',
      'added TTFT p50 / p99 ms, 10 paced streams',
      'added TTFT p50 / p99 ms, 100 paced streams',
      'CPU µs per request, c=32',
      'CPU ms per paced stream, 10 / 100 streams',
      `KiB per open stream (${n} open)`,
      'TTFT it reports − the client\'s mean, ms, 10 / 100 streams',
    ];
    const rows = proxies.map((target) => [
      target,
      formatSpread(paired('nonstream.c32.rps', target), '×'),
      pair(paired('nonstream.c1.p50', target), paired('nonstream.c1.p99', target), '+'),
      formatSpread(paired('stream.c32.rps', target), '×'),
      ttftCell(10, target),
      ttftCell(100, target),
      formatSpread(own('nonstream.c32.cpu', target)),
      pair(own('paced.n10.cpustream', target), own('paced.n100.cpustream', target)),
      own('memory.held', target).min === 0
        ? `could not hold ${n} open at once (${formatSpread(own('memory.failed', target))} failed)`
        : formatSpread(own('memory.perstream', target)),
      this.settings.targets.find((candidate) => candidate.name === target)?.ttft === undefined
        ? 'no metric'
        : pair(own('paced.n10.ownttft', target), own('paced.n100.ownttft', target), '+'),
    ]);
    const peerTable = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
    const fullTable = figureTable(figures, names, proxies.map(versus));
    const averages = this.loadAverages.map((values) => values.map((value) => value.toFixed(2)).join(' ')).join(' → ');
    const notes =
      `Medians over ${this.settings.rounds} round(s), [min…max] over rounds; ÷ and + are paired with direct (the simulator itself) within each round.\n` +
      `Load average (1, 5, 15 min) before each round and at the end: ${averages}\n` +
      `Measurements with foreign CPU > ${FOREIGN_LIMIT} cores (another workload competed): ${this.disturbed.length === 0 ? 'none' : `${this.disturbed.length}: ${this.disturbed.slice(0, 8).join('; ')}`}` +
      (this.settings.quick ? '\nQUICK MODE: a smoke run, not figures to quote.' : '');
    const bars = routerBars(figures, names);
    process.stdout.write(`\n${peerTable}\n\n${bars.text}\n\n${notes}\n\nAll figures:\n${fullTable}\n`);

    mkdirSync(this.settings.outDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const json = join(this.settings.outDir, `peers-${stamp}.json`);
    const markdown = join(this.settings.outDir, `peers-${stamp}.md`);
    const meta = { ...this.settings.meta, date: new Date().toISOString(), quick: this.settings.quick, rounds: this.settings.rounds, wrkSeconds: this.settings.wrkSeconds, pacedDurationMs: this.settings.pacedDurationMs, memoryStreams: n, loadAverages: this.loadAverages, targets: this.settings.targets, disturbed: this.disturbed };
    const summary = figures.map((entry) => ({ ...entry, spreads: Object.fromEntries(Object.entries(entry.perTarget).map(([name, values]) => [name, spreadOf(values)])) }));
    writeFileSync(json, `${JSON.stringify({ meta, peerTable: { header, rows }, bars: { gateway: bars.gateway, floor: bars.floor }, figures: summary, runs: this.raw }, null, 2)}\n`);
    writeFileSync(markdown, `${peerTable}\n\n${bars.text}\n\n${notes}\n\n${fullTable}\n`);
    process.stdout.write(`\nresults: ${json}\n         ${markdown}\n`);
    return this.chartPanels(proxies, paired, own);
  }

  private chartPanels(proxies: readonly string[], paired: (id: string, target: string) => Spread, own: (id: string, target: string) => Spread): ChartPanel[] {
    const panel = (title: string, better: ChartPanel['better'], value: (target: string) => Spread): ChartPanel => ({
      title,
      better,
      bars: proxies.map((target) => ({ target, value: value(target) })),
    });
    return [
      panel('non-streaming req/s ÷ direct, c=32', 'higher', (target) => paired('nonstream.c32.rps', target)),
      panel('streams/s ÷ direct, 64 unpaced chunks, c=32', 'higher', (target) => paired('stream.c32.rps', target)),
      panel('added latency p99, non-streaming c=1 (ms)', 'lower', (target) => paired('nonstream.c1.p99', target)),
      panel('added TTFT p99, 100 paced streams (ms)', 'lower', (target) => paired('paced.n100.fc99', target)),
      panel('CPU per non-streaming request, c=32 (µs)', 'lower', (target) => own('nonstream.c32.cpu', target)),
      panel('CPU per paced stream, 10 streams (ms)', 'lower', (target) => own('paced.n10.cpustream', target)),
      panel(`RSS per open stream, ${this.settings.memoryStreams} open (KiB)`, 'lower', (target) => own('memory.perstream', target)),
      panel('CPU per paced stream, 100 streams (ms)', 'lower', (target) => own('paced.n100.cpustream', target)),
    ];
  }

  async chart(panels: readonly ChartPanel[]): Promise<void> {
    const versions = this.settings.meta.versions as Record<string, string>;
    const heading =
      `Tollbooth beside its peers: nginx ${versions.nginx ?? ''}, vllm-router ${versions['vllm-router'] ?? ''}, LiteLLM ${versions.litellm ?? ''}, the Node floor (node:http + undici) — ` +
      `medians of ${this.settings.rounds} round(s), whiskers min–max${this.settings.quick ? ' (QUICK MODE: smoke run)' : ''}; load average ${this.loadAverages[0]?.[0]?.toFixed(1) ?? '?'}`;
    await writeChartPng(this.settings.chartFile, heading, panels);
    process.stdout.write(`chart:   ${this.settings.chartFile}\n`);
  }
}

/** Above this many cores used by non-benchmark processes during a measurement, it is flagged. */
const FOREIGN_LIMIT = 0.1;

runBenchmark('peer-bench', async () => {
  const started = performance.now();
  const bench = new PeerBench(readSettings());
  await bench.run();
  await bench.chart(bench.report());
  log(`\npeer benchmark took ${((performance.now() - started) / 1000).toFixed(0)} s`);
});
