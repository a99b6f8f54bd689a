/**
 * The tracing bars of issue 23, measured on the built CLI (`npm run build` first; run under
 * `flock /tmp/tollbooth-bench.lock`; `npm run bench:tracing` runs throughput, then ttft):
 *
 *   node dist/test/bench/tracing-bench.js throughput [--rounds 24] [--seconds 2] [--connections 32] [--collector bars|all|both|sink|sink10|jaeger] [--processes 3] [--warm-up-seconds 20]
 *     Streaming throughput (64 unpaced chunks, `wrk -t1 -c32`, the proxy benchmark's stream
 *     scenario) through gateways in front of one simulator: `off` (no OTLP endpoint: the SDK is
 *     never loaded), and over OTLP/HTTP `sink` (100 % sampling, to the minimal accepting collector
 *     of otlp-sink.ts), `sink10` (10 % sampling, the same sink) and `jaeger` (100 %, to a live
 *     Jaeger v2). Interleaved in one run, each target in each position and after each other
 *     target equally often; prints on ÷ off per round and its median for each, the gateways' CPU
 *     and system calls per request and what each collector received and spent. Each target runs
 *     as several gateway processes, one per round in turn, paired so that every `off` process
 *     meets every traced one (two processes of one build were seen to serve a few per cent apart
 *     for a whole run). Each process serves `--warm-up-seconds` of load before the rounds. Bars:
 *     `sink` on ÷ off ≥ 0.75; `sink10` within noise of off (the 95 % interval of the median holds
 *     1). Jaeger's figure also carries Jaeger's own CPU on the same two cores (reported, not judged).
 *     BENCH_GATEWAY_NODE_FLAGS gives the gateways node flags (`--cpu-prof --cpu-prof-dir=DIR` leaves
 *     one profile per gateway, for a differential profile of on vs off).
 *
 *   node dist/test/bench/tracing-bench.js ttft [--concurrency 100] [--rounds 24] [--seconds 4] [--itl-ms 5] [--tokens 64] [--warm-up-seconds 20]
 *     Added TTFT: paced streams through `off` and a 100 %-sampling gateway, interleaved rounds;
 *     the median over rounds of (on − off) of each round's median TTFT. Bar: ≤ 0.3 ms.
 *
 *   node dist/test/bench/tracing-bench.js soak [--minutes 5] [--sink closed|silent|none] [--concurrency 64]
 *       [--tokens 64] [--itl-ms 5] [--sample-ms 2000] [--json]
 *     The exporter unreachable under load: the gateway traces every request (100% sampling) to
 *     a closed port (`closed`: connection refused) or to a port that accepts and never answers
 *     (`silent`: every export waits out its timeout), while paced streams run for N minutes;
 *     `none` is the control: the same load with tracing off, for the RSS curve to compare with.
 *     Reports failed requests (bar: 0), the gateway's RSS over time (bar: flat) and its log
 *     lines other than the access log. `--json` prints the result as the last stdout line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { freePorts } from '../helpers/free-ports.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startJaeger, type Jaeger } from '../helpers/jaeger.js';
import { environmentWithoutOtel, startNodeServer, type NodeServer } from './node-server.js';
import { cpuDuring, cpuSeconds, eventLoopCpuSeconds, residentKiB, systemCalls } from './procfs.js';
import { CHAT_PATH, chatBody, simHeaders } from './scenario.js';
import { positiveNumber, runBenchmark, UNPACED_SIMULATOR_CONFIG } from './report.js';
import { processOfRound } from './pairing.js';
import { medianInterval, spreadOf, type MedianInterval } from './stats.js';
import { runStreamLoad } from './stream-load-process.js';
import { runWrk, writeWrkScript, type WrkResult } from './wrk.js';

const MODEL = 'tollbooth-sim-model';
/** Issue 23: tracing at 100 % sampling costs at most 25 % of streaming throughput. */
const THROUGHPUT_BAR = 0.75;
/** Issue 23: tracing on adds at most this much to the median TTFT of 100 paced streams. */
const ADDED_TTFT_BAR_MS = 0.3;
/** Longer than the batch span processor's default 5 s schedule delay. */
const EXPORT_DRAIN_MS = 6_000;
/** RSS growth between the first and the last third of the soak (after warm-up) still called flat. */
const FLAT_GROWTH_LIMIT = 0.1;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function gatewayConfig(port: number, simulatorUrl: string): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port },
    replicas: [{ name: 'sim', url: simulatorUrl, models: [MODEL] }],
    // The benchmark measures tracing, not key checks.
    auth: { enabled: false },
  };
}

/**
 * 100% sampling, the exporter's settings otherwise at their defaults (as a user gets them), unless
 * the bench itself runs with `OTEL_BSP_*` set: those reach the gateway, to measure other batch settings.
 */
function tracingEnvironment(endpoint: string, ratio = 1): NodeJS.ProcessEnv {
  return {
    ...environmentWithoutOtel(),
    ...batchSettingsOfBench(),
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    ...(ratio === 1 ? { OTEL_TRACES_SAMPLER: 'always_on' } : { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: String(ratio) }),
    OTEL_SERVICE_NAME: 'tollbooth-bench',
  };
}

/** The `OTEL_BSP_*` variables the bench runs with (none: the batch processor's defaults). */
function batchSettingsOfBench(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_BSP_')));
}

async function startSimulator(workDir: string): Promise<NodeServer> {
  const [port] = (await freePorts(1)) as [number];
  return startNodeServer({ name: 'sim', command: 'sim', config: { ...UNPACED_SIMULATOR_CONFIG, port }, port, env: environmentWithoutOtel(), readyPath: '/health', workDir });
}

async function startGateway(name: string, workDir: string, simulator: NodeServer, env: NodeJS.ProcessEnv, stdoutFile?: string): Promise<NodeServer> {
  const [port] = (await freePorts(1)) as [number];
  return startNodeServer({ name, command: 'start', config: gatewayConfig(port, simulator.url), port, env, readyPath: '/ready', workDir, ...(stdoutFile === undefined ? {} : { stdoutFile }) });
}

// ---------------------------------------------------------------- throughput

/** `off`: tracing disabled; the others: 100 % sampling, exporting to the collector of that name. */
type TargetName = 'off' | CollectorKind;

interface ThroughputRun {
  readonly round: number;
  readonly target: TargetName;
  /** Which of the target's gateway processes served the round (1-based). */
  readonly process: number;
  readonly wrk: WrkResult;
  /** The gateway process's CPU per request, all its threads. */
  readonly gatewayCpuPerRequestUs: number;
  /**
   * Its main thread's alone: the event loop, whose CPU per request limits how many streams the
   * gateway relays; V8's helper threads can use the other core.
   */
  readonly eventLoopCpuPerRequestUs: number;
  /** The target's collector's CPU for the run and the export drain after it, per request (0 for `off`). */
  readonly collectorCpuPerRequestUs: number;
  readonly spansPerRequest: number;
  /** The simulator's CPU per request: the upstream shares the two cores with everything else. */
  readonly simulatorCpuPerRequestUs: number;
  /** Busy cores of the whole machine during the round: near 2, every process competes for CPU. */
  readonly machineBusyCores: number;
  /**
   * The gateway's read and write system calls per request (client and replica sockets together):
   * whether a slow round's streams arrived and left in more pieces than a fast round's.
   */
  readonly gatewayReadsPerRequest: number;
  readonly gatewayWritesPerRequest: number;
  readonly foreignCores: number;
}

/** Where a traced gateway exports: what the throughput run needs of Jaeger or of the minimal sink. */
type Collector = Pick<Jaeger, 'otlpHttpEndpoint' | 'acceptedSpans' | 'pid' | 'stop'> & Partial<Pick<Jaeger, 'trace'>>;
/** `sink10`: the sink, with 10 % of requests sampled (OTEL_TRACES_SAMPLER=traceidratio). */
type CollectorKind = 'sink' | 'sink10' | 'jaeger';
const COLLECTOR_LABEL: Record<CollectorKind, string> = { sink: 'the sink', sink10: 'the sink at 10 % sampling', jaeger: 'Jaeger' };
const SAMPLED_RATIO: Record<CollectorKind, number> = { sink: 1, sink10: 0.1, jaeger: 1 };

async function startSink(): Promise<Collector> {
  const [port] = (await freePorts(1)) as [number];
  const child = spawn(process.execPath, [new URL('./otlp-sink.js', import.meta.url).pathname, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return {
    otlpHttpEndpoint: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    acceptedSpans: async () => Number(await (await fetch(`http://127.0.0.1:${port}/spans`)).text()),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function startCollector(kind: CollectorKind): Promise<Collector> {
  return kind === 'jaeger' ? startJaeger({ selfMetrics: true, maxTraces: 50_000 }) : startSink();
}

interface Target {
  readonly name: TargetName;
  /** The target's gateway processes (same build and settings), one per round in turn. */
  readonly gateways: readonly NodeServer[];
  readonly collector: Collector | undefined;
}

async function throughput(values: {
  rounds: number;
  seconds: number;
  connections: number;
  processes: number;
  warmUpSeconds: number;
  collectors: readonly CollectorKind[];
}): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-tracing-bench-'));
  const collectors: Collector[] = [];
  const servers: NodeServer[] = [];
  try {
    const simulator = await startSimulator(workDir);
    servers.push(simulator);
    const startGateways = async (name: TargetName, env: NodeJS.ProcessEnv): Promise<NodeServer[]> => {
      const gateways: NodeServer[] = [];
      for (let index = 1; index <= values.processes; index++) {
        const gateway = await startGateway(`tollbooth-${name}-${index}`, workDir, simulator, env);
        servers.push(gateway);
        gateways.push(gateway);
      }
      return gateways;
    };
    const targets: Target[] = [{ name: 'off', gateways: await startGateways('off', environmentWithoutOtel()), collector: undefined }];
    for (const kind of values.collectors) {
      const collector = await startCollector(kind);
      collectors.push(collector);
      const gateways = await startGateways(kind, tracingEnvironment(collector.otlpHttpEndpoint, SAMPLED_RATIO[kind]));
      for (const gateway of gateways) await checkTraceArrives(gateway, collector);
      targets.push({ name: kind, gateways, collector });
    }
    const script = join(workDir, 'stream.lua');
    writeWrkScript(script, { path: CHAT_PATH, body: chatBody(true), headers: simHeaders({ tokens: 64, interTokenMs: 0, ttftMs: 0 }) });
    const benchPids = [...servers.map((server) => server.pid), ...collectors.map((collector) => collector.pid)];

    const batchSettings = Object.entries(batchSettingsOfBench());
    log(
      `stream 64 unpaced c=${values.connections}, ${values.rounds} rounds × ${values.seconds} s per target (${targets.map((target) => target.name).join(', ')}; ${values.processes} gateway processes each), ` +
        `batch span processor ${batchSettings.length === 0 ? 'at its defaults' : batchSettings.map(([name, value]) => `${name}=${value}`).join(' ')}; warming up each process for ${values.warmUpSeconds} s`,
    );
    for (const target of targets) for (const gateway of target.gateways) await runWrk(gateway.url, script, values.connections, values.warmUpSeconds);
    await sleep(EXPORT_DRAIN_MS);

    const runs: ThroughputRun[] = [];
    for (let round = 0; round < values.rounds; round++) {
      // Each target in each position, and right after each other target, equally often: the
      // order rotates every round and runs backwards every other turn of the rotation.
      const rotated = targets.map((_, index) => targets[(index + round) % targets.length]!);
      const order = Math.floor(round / targets.length) % 2 === 0 ? rotated : rotated.reverse();
      for (const { name, gateways, collector } of order) {
        const processIndex = processOfRound(round, values.processes, collector !== undefined);
        const gateway = gateways[processIndex]!;
        const spansBefore = collector === undefined ? 0 : await collector.acceptedSpans();
        const collectorCpuBefore = collector === undefined ? 0 : cpuSeconds(collector.pid);
        const callsBefore = systemCalls(gateway.pid);
        const eventLoopBefore = eventLoopCpuSeconds(gateway.pid);
        const account = await cpuDuring([gateway.pid, simulator.pid], () => runWrk(gateway.url, script, values.connections, values.seconds), benchPids);
        const eventLoopCpu = eventLoopCpuSeconds(gateway.pid) - eventLoopBefore;
        const callsAfter = systemCalls(gateway.pid);
        // Spans still queued in the gateway's batch processor arrive within its schedule delay;
        // the next measurement must not share the machine with that export. Every target waits
        // as long, so each measurement follows the same idle time whatever ran before it (a run
        // that skipped the wait for `off` had `off` always follow an idle drain and came out
        // biased: the 2026-11-23 runs in RESULTS.md's git history).
        await sleep(EXPORT_DRAIN_MS);
        const spans = collector === undefined ? 0 : (await collector.acceptedSpans()) - spansBefore;
        const collectorCpu = collector === undefined ? 0 : cpuSeconds(collector.pid) - collectorCpuBefore;
        const [gatewayCpu = 0, simulatorCpu = 0] = account.processSeconds;
        const run: ThroughputRun = {
          round,
          target: name,
          process: processIndex + 1,
          wrk: account.result,
          gatewayCpuPerRequestUs: (gatewayCpu / account.result.requests) * 1e6,
          eventLoopCpuPerRequestUs: (eventLoopCpu / account.result.requests) * 1e6,
          collectorCpuPerRequestUs: (collectorCpu / account.result.requests) * 1e6,
          spansPerRequest: spans / account.result.requests,
          simulatorCpuPerRequestUs: (simulatorCpu / account.result.requests) * 1e6,
          machineBusyCores: account.machineBusyCores,
          gatewayReadsPerRequest: (callsAfter.reads - callsBefore.reads) / account.result.requests,
          gatewayWritesPerRequest: (callsAfter.writes - callsBefore.writes) / account.result.requests,
          foreignCores: account.foreignCores,
        };
        runs.push(run);
        const errors = run.wrk.errors > 0 ? ` ERRORS ${run.wrk.errors}` : '';
        const exported = collector === undefined ? '' : `collector ${run.collectorCpuPerRequestUs.toFixed(0)} µs/request, ${run.spansPerRequest.toFixed(2)} spans/request received, `;
        log(
          `round ${round + 1} ${`${name}#${run.process}`.padEnd(8)} ${run.wrk.requestsPerSecond.toFixed(0).padStart(6)} req/s p50 ${run.wrk.p50Ms.toFixed(2)} p99 ${run.wrk.p99Ms.toFixed(2)} ms, ` +
            `gateway ${run.gatewayCpuPerRequestUs.toFixed(0)} µs CPU/request (event loop ${run.eventLoopCpuPerRequestUs.toFixed(0)}; ${run.gatewayReadsPerRequest.toFixed(1)} reads, ${run.gatewayWritesPerRequest.toFixed(1)} writes), ${exported}simulator ${run.simulatorCpuPerRequestUs.toFixed(0)} µs/request, ` +
            `machine ${run.machineBusyCores.toFixed(2)} cores busy, foreign ${run.foreignCores.toFixed(2)} cores${errors}`,
        );
      }
    }
    reportThroughput(runs, values.connections, values.collectors);
  } finally {
    for (const server of servers.reverse()) await server.stop();
    for (const collector of collectors) await collector.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * One request with a known trace id must come back from Jaeger as gateway spans, or the run
 * measures nothing (the sink has no query API: its span count is checked in every round instead).
 */
async function checkTraceArrives(gateway: NodeServer, collector: Collector): Promise<void> {
  if (collector.trace === undefined) return;
  const traceId = randomBytes(16).toString('hex');
  const response = await fetch(`${gateway.url}${CHAT_PATH}`, {
    method: 'POST',
    headers: { ...simHeaders({ tokens: 4, interTokenMs: 0, ttftMs: 0 }), traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    body: chatBody(true),
  });
  await response.text();
  const trace = (await collector.trace(traceId, { timeoutMs: 15_000 })) as { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] };
  const names = trace.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans.map((span) => span.name)));
  log(`tracing is live: trace ${traceId} in Jaeger with spans ${names.join(', ')}`);
}

interface CollectorResult {
  readonly ratio: number;
  /** Where the median of the rounds' ratios lies with 95 % confidence: how far one run's verdict can be trusted. */
  readonly ratioInterval: MedianInterval;
  readonly ratios: readonly number[];
  readonly cpuRatios: readonly number[];
  readonly addedCpuUs: number;
  readonly addedEventLoopCpuUs: number;
  readonly collectorCpuUs: number;
  readonly verdict: 'PASS' | 'FAIL';
}

/**
 * The bar of a traced target: 100 % sampling costs at most 25 % of throughput (on ÷ off ≥ 0.75);
 * 10 % sampling is within the benchmark's noise of off (the 95 % interval of the median ratio holds 1).
 */
function verdictOf(kind: CollectorKind, ratio: number, interval: MedianInterval): 'PASS' | 'FAIL' {
  if (SAMPLED_RATIO[kind] < 1) return interval.low <= 1 && interval.high >= 1 ? 'PASS' : 'FAIL';
  return ratio >= THROUGHPUT_BAR ? 'PASS' : 'FAIL';
}

/**
 * On ÷ off per traced target. The bar is judged on the first collector given (by default the
 * minimal sink): what tracing costs the gateway. The second (Jaeger) shows what a real collector
 * adds when it runs on the same two cores as the gateway, the simulator and the load generator.
 */
function reportThroughput(runs: readonly ThroughputRun[], connections: number, collectors: readonly CollectorKind[]): void {
  const rounds = [...new Set(runs.map((run) => run.round))];
  const of = (round: number, target: TargetName): ThroughputRun => runs.find((run) => run.round === round && run.target === target) as ThroughputRun;
  const median = (target: TargetName, pick: (run: ThroughputRun) => number): number => spreadOf(runs.filter((run) => run.target === target).map(pick)).median;
  const errors = runs.reduce((sum, run) => sum + run.wrk.errors, 0);
  const context = (target: TargetName): string =>
    `gateway system calls per request ${median(target, (run) => run.gatewayReadsPerRequest).toFixed(1)} reads, ${median(target, (run) => run.gatewayWritesPerRequest).toFixed(1)} writes, ` +
    `simulator ${median(target, (run) => run.simulatorCpuPerRequestUs).toFixed(0)} µs CPU/request, machine ${median(target, (run) => run.machineBusyCores).toFixed(2)} cores busy`;
  log(`\nstreaming throughput (64 unpaced chunks) c=${connections}, median of ${rounds.length} rounds:`);
  const cpu = (target: TargetName): string =>
    `${median(target, (run) => run.gatewayCpuPerRequestUs).toFixed(0)} µs gateway CPU/request (event loop ${median(target, (run) => run.eventLoopCpuPerRequestUs).toFixed(0)})`;
  log(`  off     ${median('off', (run) => run.wrk.requestsPerSecond).toFixed(0)} req/s, ${cpu('off')}, ${context('off')}`);
  const results: Partial<Record<CollectorKind, CollectorResult>> = {};
  for (const kind of collectors) {
    const label = COLLECTOR_LABEL[kind];
    const ratios = rounds.map((round) => of(round, kind).wrk.requestsPerSecond / of(round, 'off').wrk.requestsPerSecond);
    // Throughput on two shared cores swings with the neighbours; CPU per request is the steadier view.
    const cpuRatios = rounds.map((round) => of(round, 'off').gatewayCpuPerRequestUs / of(round, kind).gatewayCpuPerRequestUs);
    // What tracing adds per request, each round's pair measured back to back: the whole process, and its event loop.
    const addedUs = rounds.map((round) => of(round, kind).gatewayCpuPerRequestUs - of(round, 'off').gatewayCpuPerRequestUs);
    const addedEventLoopUs = rounds.map((round) => of(round, kind).eventLoopCpuPerRequestUs - of(round, 'off').eventLoopCpuPerRequestUs);
    const range = spreadOf(ratios);
    const result: CollectorResult = {
      ratio: range.median,
      ratioInterval: medianInterval(ratios),
      ratios,
      cpuRatios,
      addedCpuUs: spreadOf(addedUs).median,
      addedEventLoopCpuUs: spreadOf(addedEventLoopUs).median,
      collectorCpuUs: median(kind, (run) => run.collectorCpuPerRequestUs),
      verdict: verdictOf(kind, range.median, medianInterval(ratios)),
    };
    results[kind] = result;
    log(
      `  ${kind.padEnd(7)} ${median(kind, (run) => run.wrk.requestsPerSecond).toFixed(0)} req/s, ${cpu(kind)}, ` +
        `${label} ${result.collectorCpuUs.toFixed(0)} µs CPU/request, ${median(kind, (run) => run.spansPerRequest).toFixed(2)} spans/request received, ${context(kind)}`,
    );
    log(`    on ÷ off per round: ${ratios.map((value) => value.toFixed(3)).join(' ')}`);
    log(`    gateway CPU per request, off ÷ on: ${spreadOf(cpuRatios).median.toFixed(3)} (per round ${cpuRatios.map((value) => value.toFixed(3)).join(' ')})`);
    log(`    gateway CPU added by tracing: ${result.addedCpuUs.toFixed(0)} µs/request median (per round ${addedUs.map((value) => value.toFixed(0)).join(' ')})`);
    log(`    of which on the event loop: ${result.addedEventLoopCpuUs.toFixed(0)} µs/request median (per round ${addedEventLoopUs.map((value) => value.toFixed(0)).join(' ')})`);
    log(
      `    on ÷ off, exporting to ${label} = ${result.ratio.toFixed(3)} (range ${range.min.toFixed(3)}–${range.max.toFixed(3)}; ` +
        `the median lies in ${result.ratioInterval.low.toFixed(3)}–${result.ratioInterval.high.toFixed(3)} with ${(result.ratioInterval.coverage * 100).toFixed(0)} % confidence); ` +
        `${SAMPLED_RATIO[kind] < 1 ? 'interval holds 1 (within noise of off)' : `≥ ${THROUGHPUT_BAR}`}: ${result.verdict}`,
    );
  }
  const judged = collectors[0]!;
  const { ratio, verdict } = results[judged]!;
  for (const kind of collectors.filter((candidate) => candidate !== 'jaeger')) {
    log(`  bar, ${COLLECTOR_LABEL[kind]}: on ÷ off ${results[kind]!.ratio.toFixed(3)} ${results[kind]!.verdict}${errors > 0 ? `; ${errors} wrk errors` : ''}`);
  }
  process.stdout.write(`${JSON.stringify({ type: 'tracing-throughput', connections, judged, ratio, verdict, collectors: results, errors, runs })}\n`);
}

// ---------------------------------------------------------------- added TTFT

/**
 * What tracing adds to time to first token under paced load: gateways `off` and 100 % sampling to
 * the sink, `--concurrency` paced streams (64 chunks, `--itl-ms` apart, no simulated TTFT) for
 * `--seconds` per round, interleaved and reversed every other round; the figure is the median over
 * rounds of (on − off) of the round's median first-content time.
 */
async function addedTtft(values: { rounds: number; seconds: number; concurrency: number; tokens: number; itlMs: number; warmUpSeconds: number }): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-tracing-ttft-'));
  const servers: NodeServer[] = [];
  const sink = await startSink();
  try {
    const simulator = await startSimulator(workDir);
    servers.push(simulator);
    const off = await startGateway('tollbooth-off', workDir, simulator, environmentWithoutOtel());
    const on = await startGateway('tollbooth-sink', workDir, simulator, tracingEnvironment(sink.otlpHttpEndpoint));
    servers.push(off, on);
    const load = (gateway: NodeServer, seconds: number) =>
      runStreamLoad({
        url: gateway.url,
        concurrency: values.concurrency,
        tokens: values.tokens,
        interTokenMs: values.itlMs,
        ttftMs: 0,
        durationMs: seconds * 1000,
        warmupMs: Math.min(1_000, (seconds * 1000) / 4),
        rampMs: Math.min(1_000, (seconds * 1000) / 4),
        deadlineMs: seconds * 1000 + 60_000,
      });
    log(`added TTFT: ${values.concurrency} paced streams (${values.tokens} chunks × ${values.itlMs} ms), ${values.rounds} rounds × ${values.seconds} s, warming up each gateway ${values.warmUpSeconds} s`);
    for (const gateway of [off, on]) await load(gateway, values.warmUpSeconds);
    const differences: number[] = [];
    for (let round = 0; round < values.rounds; round++) {
      const order = round % 2 === 0 ? [off, on] : [on, off];
      const medians = new Map<NodeServer, number>();
      for (const gateway of order) {
        const result = await load(gateway, values.seconds);
        if (result.failed > 0) throw new Error(`${result.failed} streams failed: ${result.firstErrors.join('; ')}`);
        medians.set(gateway, result.firstContentMs.p50);
      }
      differences.push(medians.get(on)! - medians.get(off)!);
      log(`round ${round + 1}: TTFT p50 off ${medians.get(off)!.toFixed(2)} ms, on ${medians.get(on)!.toFixed(2)} ms, added ${differences.at(-1)!.toFixed(2)} ms`);
    }
    const added = spreadOf(differences).median;
    const interval = medianInterval(differences);
    const verdict = added <= ADDED_TTFT_BAR_MS ? 'PASS' : 'FAIL';
    log(
      `added TTFT, 100 % sampling − off: ${added.toFixed(2)} ms median of ${values.rounds} rounds (95 % interval ${interval.low.toFixed(2)}–${interval.high.toFixed(2)}); ` +
        `bar ≤ ${ADDED_TTFT_BAR_MS} ms: ${verdict}`,
    );
    process.stdout.write(`${JSON.stringify({ type: 'tracing-added-ttft', added, interval, differences, verdict })}\n`);
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await sink.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- exporter-down soak

/** Where the gateway's spans go: a refusing port, a port that never answers, or nowhere (tracing off). */
type Sink = 'closed' | 'silent' | 'none';

interface SoakValues {
  readonly minutes: number;
  readonly sink: Sink;
  readonly concurrency: number;
  readonly tokens: number;
  readonly itlMs: number;
  readonly sampleMs: number;
  readonly json: boolean;
}

export interface SoakResult {
  readonly type: 'tracing-soak';
  readonly sink: Sink;
  readonly seconds: number;
  readonly started: number;
  readonly completed: number;
  readonly failed: number;
  readonly firstErrors: readonly string[];
  /** [seconds since the load started, gateway RSS MiB]. */
  readonly rss: readonly (readonly [number, number])[];
  readonly rssFirstThirdMiB: number;
  readonly rssLastThirdMiB: number;
  readonly rssGrowth: number;
  readonly rssSlopeMiBPerMinute: number;
  readonly flat: boolean;
  /** Log lines other than the access log, counted by message. */
  readonly logMessages: Readonly<Record<string, number>>;
}

/** A port that accepts connections and never answers: the exporter waits out its timeout on each. */
async function silentSink(port: number): Promise<{ stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function median(values: readonly number[]): number {
  return spreadOf([...values]).median;
}

function slopePerMinute(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return (covariance / variance) * 60;
}

function logMessages(file: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.includes('"component":"access"')) continue;
    let message = line;
    try {
      const parsed = JSON.parse(line) as { msg?: unknown; level?: unknown };
      message = `${String(parsed.level)} ${String(parsed.msg)}`;
    } catch {
      // not JSON: counted as is
    }
    counts[message] = (counts[message] ?? 0) + 1;
  }
  return counts;
}

async function soak(values: SoakValues): Promise<SoakResult> {
  const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-tracing-soak-'));
  const servers: NodeServer[] = [];
  const [sinkPort] = (await freePorts(1)) as [number];
  const sink = values.sink === 'silent' ? await silentSink(sinkPort) : undefined;
  try {
    const simulator = await startSimulator(workDir);
    servers.push(simulator);
    const gatewayLog = join(workDir, 'gateway.log');
    const env = values.sink === 'none' ? environmentWithoutOtel() : tracingEnvironment(`http://127.0.0.1:${sinkPort}`);
    const gateway = await startGateway('tollbooth-soak', workDir, simulator, env, gatewayLog);
    servers.push(gateway);
    const durationMs = values.minutes * 60_000;
    const exporter = values.sink === 'none' ? 'tracing off (control)' : `OTLP endpoint 127.0.0.1:${sinkPort} (${values.sink})`;
    log(`exporter-down soak: ${exporter}, ${values.concurrency} streams of ${values.tokens} × ${values.itlMs} ms for ${values.minutes} min`);

    const startedAt = performance.now();
    const rss: [number, number][] = [];
    const sample = (): void => {
      rss.push([(performance.now() - startedAt) / 1000, residentKiB(gateway.pid) / 1024]);
    };
    sample();
    let lastPrinted = 0;
    const sampler = setInterval(() => {
      sample();
      const [at, mib] = rss[rss.length - 1] as [number, number];
      if (at - lastPrinted >= 30) {
        lastPrinted = at;
        log(`  ${at.toFixed(0).padStart(4)} s  gateway RSS ${mib.toFixed(1)} MiB`);
      }
    }, values.sampleMs);

    // Load in segments of at most 20 s: each generator process keeps its samples in memory.
    let started = 0;
    let completed = 0;
    let failed = 0;
    const firstErrors: string[] = [];
    while (performance.now() - startedAt < durationMs) {
      const remaining = durationMs - (performance.now() - startedAt);
      const segmentMs = Math.max(1_000, Math.min(20_000, remaining));
      const result = await runStreamLoad({
        url: gateway.url,
        concurrency: values.concurrency,
        tokens: values.tokens,
        interTokenMs: values.itlMs,
        ttftMs: 0,
        durationMs: segmentMs,
        warmupMs: 0,
        rampMs: Math.min(1_000, segmentMs / 4),
        deadlineMs: segmentMs + 60_000,
      });
      started += result.started;
      completed += result.completed;
      failed += result.failed;
      for (const error of result.firstErrors) if (firstErrors.length < 5) firstErrors.push(error);
    }
    clearInterval(sampler);
    sample();
    const seconds = (performance.now() - startedAt) / 1000;

    // The first fifth (at most a minute) is the heap growing to fit the load, not a leak.
    const warmUp = Math.min(60, seconds / 5);
    const steady = rss.filter(([at]) => at >= warmUp);
    const third = Math.max(1, Math.floor(steady.length / 3));
    const first = median(steady.slice(0, third).map(([, mib]) => mib));
    const last = median(steady.slice(-third).map(([, mib]) => mib));
    const growth = (last - first) / first;
    const result: SoakResult = {
      type: 'tracing-soak',
      sink: values.sink,
      seconds,
      started,
      completed,
      failed,
      firstErrors,
      rss,
      rssFirstThirdMiB: first,
      rssLastThirdMiB: last,
      rssGrowth: growth,
      rssSlopeMiBPerMinute: slopePerMinute(steady),
      flat: growth <= FLAT_GROWTH_LIMIT,
      logMessages: logMessages(gatewayLog),
    };
    log(`\nexporter down (${values.sink}) for ${seconds.toFixed(0)} s: ${completed} streams completed, ${failed} failed (bar: 0)${firstErrors.length > 0 ? `: ${firstErrors.join('; ')}` : ''}`);
    log(
      `  gateway RSS after warm-up: first third ${first.toFixed(1)} MiB, last third ${last.toFixed(1)} MiB (${(growth * 100).toFixed(1)} %, ` +
        `slope ${result.rssSlopeMiBPerMinute.toFixed(2)} MiB/min); flat (≤ ${FLAT_GROWTH_LIMIT * 100} %): ${result.flat ? 'PASS' : 'FAIL'}`,
    );
    log(`  gateway log besides the access log: ${JSON.stringify(result.logMessages)}`);
    return result;
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await sink?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- command line

/** `both` measures the two collectors in one run; the bar is judged on the first (see reportThroughput). */
const COLLECTOR_CHOICES: Partial<Record<string, readonly CollectorKind[]>> = {
  all: ['sink', 'sink10', 'jaeger'],
  both: ['sink', 'jaeger'],
  bars: ['sink', 'sink10'],
  sink: ['sink'],
  sink10: ['sink10'],
  jaeger: ['jaeger'],
};

function wholeNumber(name: string, text: string): number {
  const value = positiveNumber(name, text);
  if (!Number.isInteger(value)) throw new Error(`--${name} must be a whole number, got '${text}'`);
  return value;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      // Many short rounds: on this shared host a few long ones do not resolve effects of 10-20 µs
      // per request (test/bench/RESULTS.md, "How the benchmarks measure").
      rounds: { type: 'string', default: '24' },
      seconds: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' },
      collector: { type: 'string', default: 'bars' },
      // Gateway processes per target (see the throughput comment at the top).
      processes: { type: 'string', default: '3' },
      // Seconds of load each gateway process serves before the rounds. Under this load V8 keeps
      // compiling for 10-15 s of a new process's life (its helper threads busy, the process 15-25 %
      // slower), a traced one longer than an untraced one (RESULTS.md, "How the benchmarks measure"); measured
      // earlier, the rounds mix that warm-up into what tracing costs a running gateway.
      'warm-up-seconds': { type: 'string', default: '20' },
      minutes: { type: 'string', default: '5' },
      sink: { type: 'string', default: 'closed' },
      concurrency: { type: 'string', default: '64' },
      tokens: { type: 'string', default: '64' },
      'itl-ms': { type: 'string', default: '5' },
      'sample-ms': { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
    },
  });
  const mode = positionals[0] ?? 'throughput';
  if (mode === 'throughput') {
    const collectors = COLLECTOR_CHOICES[values.collector];
    if (collectors === undefined) throw new Error(`--collector is ${Object.keys(COLLECTOR_CHOICES).join(', ')}, got '${values.collector}'`);
    await throughput({
      collectors,
      rounds: positiveNumber('rounds', values.rounds),
      seconds: positiveNumber('seconds', values.seconds),
      connections: positiveNumber('connections', values.connections),
      processes: wholeNumber('processes', values.processes),
      warmUpSeconds: wholeNumber('warm-up-seconds', values['warm-up-seconds']),
    });
  } else if (mode === 'ttft') {
    await addedTtft({
      rounds: wholeNumber('rounds', values.rounds),
      seconds: positiveNumber('seconds', values.seconds),
      concurrency: wholeNumber('concurrency', values.concurrency),
      tokens: wholeNumber('tokens', values.tokens),
      itlMs: Number(values['itl-ms']),
      warmUpSeconds: wholeNumber('warm-up-seconds', values['warm-up-seconds']),
    });
  } else if (mode === 'soak') {
    if (values.sink !== 'closed' && values.sink !== 'silent' && values.sink !== 'none') throw new Error(`--sink is closed, silent or none, got '${values.sink}'`);
    const result = await soak({
      minutes: positiveNumber('minutes', values.minutes),
      sink: values.sink,
      concurrency: positiveNumber('concurrency', values.concurrency),
      tokens: positiveNumber('tokens', values.tokens),
      itlMs: Number(values['itl-ms']),
      sampleMs: positiveNumber('sample-ms', values['sample-ms']),
      json: values.json,
    });
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    throw new Error(`unknown mode '${mode}' (throughput, ttft or soak)`);
  }
}

runBenchmark('tracing-bench', main);
