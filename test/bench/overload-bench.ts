/**
 * Overload benchmark (`npm run bench:overload`): does overload control keep critical traffic's
 * latency when the fleet is past its capacity, and how much useful work gets done?
 *
 * One simulator replica (the built CLI, a process of its own) running OVERLOAD_MAX_RUNNING sequences
 * at once (vLLM's max_num_seqs; the rest queue FIFO), every answer 64 tokens 10 ms apart, so its
 * capacity is about MAX_RUNNING / 0.66 s requests per second. One gateway process per phase, in front
 * of a fresh simulator:
 *   unloaded  overload control on, critical traffic alone at 0.3x capacity: the reference TTFT
 *   off       overload control off, the mix at OVERLOAD_LOAD_FACTOR x capacity (default 2)
 *   on        overload control on, the same mix and seed: OVERLOAD_CRITICAL_RESERVE (default half) of
 *             the engine's slots kept for critical (standard and batch beyond the rest are shed),
 *             pressure (engine queue, or the gateway's in-flight count filling the lower classes'
 *             share) clamps standard and batch to 16 tokens, overload sheds batch
 *   queue     the same with the gateway queue: in overload standard and batch wait at the gateway
 *             (deadlines 10 s and 2 s) instead of in the engine's FIFO ahead of critical
 * The mix is 20 % critical, 40 % standard, 40 % batch, open-loop Poisson arrivals for
 * OVERLOAD_DURATION_S seconds; every request is a stream. TTFT is the client's: request start to the
 * first content-bearing SSE frame. Goodput: streams completed with a TTFT within OVERLOAD_TTFT_SLO_MS,
 * per second of arrivals. The bars (issue 25): critical TTFT p95 with control on at most 2x its
 * unloaded value, and goodput on at least 1.5x off. Every 100 ms the simulator's engine queue and the
 * controller's level and in-flight counts are sampled: the diagnosis says what a slow critical
 * request (over twice the unloaded p95) met when it was sent. Figures go to stdout and
 * test/bench/out/overload.json.
 */
import { Agent, request } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey, hashApiKey } from '../../src/auth/key-format.js';
import { PRIORITY_CLASSES, type PriorityClass } from '../../src/overload/config.js';
import { freePorts } from '../helpers/free-ports.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { environmentWithoutOtel, startNodeServer, type NodeServer } from './node-server.js';
import { SseScanner } from './sse-scan.js';
import { percentileOfSorted } from './stats.js';

const MODEL = 'overload-bench-model';
const MAX_RUNNING = Number(process.env.OVERLOAD_MAX_RUNNING ?? '8');
const LOAD_FACTOR = Number(process.env.OVERLOAD_LOAD_FACTOR ?? '2');
const DURATION_S = Number(process.env.OVERLOAD_DURATION_S ?? '30');
const TTFT_SLO_MS = Number(process.env.OVERLOAD_TTFT_SLO_MS ?? '2000');
/** Engine slots kept free for critical traffic (overload.criticalReservePerReplica). */
const CRITICAL_RESERVE = Number(process.env.OVERLOAD_CRITICAL_RESERVE ?? String(MAX_RUNNING / 2));
/** The in-flight ratio just under MAX_RUNNING - CRITICAL_RESERVE requests (in-flight counts are whole). */
const LOWER_SHARE_TAKEN = (MAX_RUNNING - CRITICAL_RESERVE - 0.5) / MAX_RUNNING;
const OUTPUT_TOKENS = 64;
const INTER_TOKEN_MS = 10;
/** Requests per second one replica completes when full: MAX_RUNNING sequences of ~15 ms prefill + 64 x 10 ms. */
const CAPACITY_PER_SECOND = MAX_RUNNING / ((15 + OUTPUT_TOKENS * INTER_TOKEN_MS) / 1000);
const MIX: ReadonlyArray<readonly [PriorityClass, number]> = [
  ['critical', 0.2],
  ['standard', 0.4],
  ['batch', 0.4],
];
/** A stream still open this long after the last arrival is abandoned (counted as not finished). */
const DRAIN_LIMIT_MS = 120_000;

const secrets = Object.fromEntries(PRIORITY_CLASSES.map((priority) => [priority, generateApiKey()])) as Record<PriorityClass, string>;

interface Outcome {
  readonly priority: PriorityClass;
  /** When it was sent, ms after the phase's first arrival. */
  readonly sentAtMs: number;
  readonly status: number;
  readonly ttftMs: number | undefined;
  readonly finished: boolean;
  readonly clamped: boolean;
}

type Control = 'off' | 'on' | 'queue';

function gatewayConfig(port: number, simulatorUrl: string, control: Control): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port },
    replicas: [{ name: 'sim', url: simulatorUrl, models: [MODEL] }],
    health: { engineStatsIntervalMs: 200 },
    logging: { level: 'warn', accessLog: false },
    auth: { enabled: true, keys: PRIORITY_CLASSES.map((priority) => ({ id: priority, tenant: priority, hash: hashApiKey(secrets[priority]), priority })) },
    overload: {
      enabled: control !== 'off',
      evaluateIntervalMs: 200,
      exitAfterMs: 2_000,
      concurrencyPerReplica: MAX_RUNNING,
      criticalReservePerReplica: CRITICAL_RESERVE,
      // Pressure as soon as the share the reserve leaves the lower classes (MAX_RUNNING - CRITICAL_RESERVE in flight) is taken.
      pressure: { waitingPerReplica: { enter: 2, exit: 1 }, inFlightRatio: { enter: LOWER_SHARE_TAKEN, exit: LOWER_SHARE_TAKEN / 2 } },
      overload: { waitingPerReplica: { enter: Math.max(4, MAX_RUNNING / 2), exit: 2 } },
      clamp: { maxTokens: 16 },
      queue: { enabled: control === 'queue', deadlineMs: { standard: 10_000, batch: 2_000 } },
    },
  };
}

function streamOnce(agent: Agent, url: string, priority: PriorityClass, sentAtMs: number): Promise<Outcome> {
  const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: `a ${priority} question` }] });
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const call = request(`${url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${secrets[priority]}` } }, (response) => {
      const scanner = new SseScanner();
      let ttftMs: number | undefined;
      let tail = '';
      response.on('data', (chunk: Buffer) => {
        scanner.push(chunk);
        if (ttftMs === undefined && scanner.contentSeen) ttftMs = performance.now() - startedAt;
        tail = (tail + chunk.toString('latin1')).slice(-32);
      });
      const clamped = response.headers['x-tollbooth-max-tokens-clamped'] !== undefined;
      response.on('end', () => resolve({ priority, sentAtMs, status: response.statusCode ?? 0, ttftMs, finished: response.statusCode === 200 && tail.includes('[DONE]'), clamped }));
      response.on('error', () => resolve({ priority, sentAtMs, status: response.statusCode ?? 0, ttftMs, finished: false, clamped }));
    });
    call.setTimeout(DRAIN_LIMIT_MS, () => call.destroy());
    call.on('error', () => resolve({ priority, sentAtMs, status: 0, ttftMs: undefined, finished: false, clamped: false }));
    call.end(body);
  });
}

/** Poisson arrivals at `ratePerSecond` for DURATION_S seconds, classes drawn from `mix`; resolves when every stream has ended. */
async function drive(url: string, ratePerSecond: number, mix: ReadonlyArray<readonly [PriorityClass, number]>, seed: number, startedAt: number): Promise<Outcome[]> {
  const random = seededRandom(seed);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const pending: Array<Promise<Outcome>> = [];
  let nextAt = 0;
  while (nextAt < DURATION_S * 1000) {
    const wait = startedAt + nextAt - performance.now();
    if (wait > 0) await new Promise((wake) => setTimeout(wake, wait));
    let draw = random();
    const priority = mix.find(([, share]) => (draw -= share) < 0)?.[0] ?? mix[mix.length - 1]![0];
    pending.push(streamOnce(agent, url, priority, performance.now() - startedAt));
    nextAt += (-Math.log(1 - random()) / ratePerSecond) * 1000;
  }
  const outcomes = await Promise.all(pending);
  agent.destroy();
  return outcomes;
}

/** What the engine and the controller showed at one moment of a phase (every SAMPLE_EVERY_MS). */
interface Sample {
  readonly atMs: number;
  /** The model's overload level (undefined with control off). */
  readonly level: string | undefined;
  readonly engineRunning: number;
  readonly engineWaiting: number;
  /** Requests the gateway had in flight for the model, standard and batch together (control on only). */
  readonly lowerInFlight: number | undefined;
}

const SAMPLE_EVERY_MS = 100;

function engineGauge(exposition: string, name: string): number {
  const match = new RegExp(`^vllm:${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(exposition);
  return match === null ? Number.NaN : Number(match[1]);
}

/** Samples the simulator's /metrics and the gateway's overload JSON until stopped: the why behind the TTFTs. */
function watch(simulatorUrl: string, adminUrl: string, startedAt: number): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const atMs = performance.now() - startedAt;
      const [engine, gateway] = await Promise.all([
        fetch(`${simulatorUrl}/metrics`).then((response) => response.text()),
        fetch(`${adminUrl}/api/v1/metrics`).then((response) => response.json() as Promise<{ overload?: Record<string, { level: string; in_flight: Record<PriorityClass, number> }> }>),
      ]);
      const model = gateway.overload?.[MODEL];
      samples.push({
        atMs,
        level: model?.level,
        engineRunning: engineGauge(engine, 'num_requests_running'),
        engineWaiting: engineGauge(engine, 'num_requests_waiting'),
        lowerInFlight: model === undefined ? undefined : model.in_flight.standard + model.in_flight.batch,
      });
      await new Promise((wake) => setTimeout(wake, Math.max(0, atMs + SAMPLE_EVERY_MS - (performance.now() - startedAt))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

function median(values: readonly number[]): number | null {
  const sorted = Float64Array.from(values.filter((value) => Number.isFinite(value))).sort();
  return sorted.length === 0 ? null : percentileOfSorted(sorted, 50);
}

/**
 * Why critical requests were slow: for those over `slowMs`, what the engine and the controller
 * showed when they were sent (the last sample before), against the same for the fast ones; and
 * the level's transitions.
 */
function diagnose(outcomes: readonly Outcome[], samples: readonly Sample[], slowMs: number) {
  const at = (atMs: number): Sample | undefined => samples.findLast((sample) => sample.atMs <= atMs) ?? samples[0];
  const context = (group: readonly Outcome[]) => {
    const seen = group.map((outcome) => at(outcome.sentAtMs)).filter((sample) => sample !== undefined);
    const levels: Record<string, number> = {};
    for (const sample of seen) levels[sample.level ?? 'off'] = (levels[sample.level ?? 'off'] ?? 0) + 1;
    return {
      count: group.length,
      levels_at_arrival: levels,
      engine_waiting_median: median(seen.map((sample) => sample.engineWaiting)),
      engine_running_median: median(seen.map((sample) => sample.engineRunning)),
      lower_class_in_flight_median: median(seen.flatMap((sample) => (sample.lowerInFlight === undefined ? [] : [sample.lowerInFlight]))),
    };
  };
  const critical = outcomes.filter((outcome) => outcome.priority === 'critical' && outcome.ttftMs !== undefined);
  const transitions: Array<{ at_ms: number; level: string }> = [];
  for (const sample of samples) if (sample.level !== undefined && sample.level !== transitions.at(-1)?.level) transitions.push({ at_ms: Math.round(sample.atMs), level: sample.level });
  return {
    slow_ms: Math.round(slowMs),
    slow_critical: context(critical.filter((outcome) => outcome.ttftMs! > slowMs)),
    fast_critical: context(critical.filter((outcome) => outcome.ttftMs! <= slowMs)),
    level_transitions: transitions,
    /** Per second of the phase: the slowest critical TTFT, the longest engine queue, the last level. */
    by_second: Array.from({ length: DURATION_S }, (_, second) => {
      const inSecond = (atMs: number) => atMs >= second * 1000 && atMs < (second + 1) * 1000;
      const ttfts = critical.filter((outcome) => inSecond(outcome.sentAtMs)).map((outcome) => outcome.ttftMs!);
      const seen = samples.filter((sample) => inSecond(sample.atMs));
      return {
        second,
        critical_ttft_max_ms: ttfts.length === 0 ? null : Math.round(Math.max(...ttfts)),
        engine_waiting_max: seen.length === 0 ? null : Math.max(...seen.map((sample) => sample.engineWaiting)),
        level: seen.at(-1)?.level ?? null,
      };
    }),
  };
}

interface ClassFigures {
  sent: number;
  ok: number;
  shed: number;
  clamped: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  good: number;
}

function figures(outcomes: readonly Outcome[]): { byClass: Partial<Record<PriorityClass, ClassFigures>>; goodputPerSecond: number } {
  const byClass: Partial<Record<PriorityClass, ClassFigures>> = {};
  let good = 0;
  for (const priority of PRIORITY_CLASSES) {
    const mine = outcomes.filter((outcome) => outcome.priority === priority);
    if (mine.length === 0) continue;
    const ttfts = Float64Array.from(mine.filter((outcome) => outcome.finished && outcome.ttftMs !== undefined).map((outcome) => outcome.ttftMs!)).sort();
    const mineGood = mine.filter((outcome) => outcome.finished && outcome.ttftMs !== undefined && outcome.ttftMs <= TTFT_SLO_MS).length;
    good += mineGood;
    byClass[priority] = {
      sent: mine.length,
      ok: mine.filter((outcome) => outcome.finished).length,
      shed: mine.filter((outcome) => outcome.status === 503).length,
      clamped: mine.filter((outcome) => outcome.clamped).length,
      ttft_p50_ms: ttfts.length === 0 ? null : Math.round(percentileOfSorted(ttfts, 50)),
      ttft_p95_ms: ttfts.length === 0 ? null : Math.round(percentileOfSorted(ttfts, 95)),
      good: mineGood,
    };
  }
  return { byClass, goodputPerSecond: Math.round((good / DURATION_S) * 100) / 100 };
}

async function phase(workDir: string, name: string, control: Control, ratePerSecond: number, mix: ReadonlyArray<readonly [PriorityClass, number]>) {
  const [simPort, gatewayPort, adminPort] = (await freePorts(3)) as [number, number, number];
  const env = environmentWithoutOtel();
  const simulator: NodeServer = await startNodeServer({
    name: `sim-${name}`,
    command: 'sim',
    config: { port: simPort, models: [MODEL], seed: 1, maxRunning: MAX_RUNNING, interTokenMs: INTER_TOKEN_MS, outputTokens: { min: OUTPUT_TOKENS, max: OUTPUT_TOKENS } },
    port: simPort,
    env,
    readyPath: '/health',
    workDir,
  });
  const gateway = await startNodeServer({
    name: `gateway-${name}`,
    command: 'start',
    config: gatewayConfig(gatewayPort, simulator.url, control),
    port: gatewayPort,
    env: { ...env, TOLLBOOTH_ADMIN_PORT: String(adminPort) },
    readyPath: '/ready',
    workDir,
  });
  try {
    const startedAt = performance.now();
    const watching = watch(simulator.url, `http://127.0.0.1:${adminPort}`, startedAt);
    const outcomes = await drive(gateway.url, ratePerSecond, mix, 25, startedAt);
    const samples = await watching.stop();
    // The host's 1-minute load average as the phase ends: the other work the figures shared the cores with.
    const loadAverage = Math.round(loadavg()[0]! * 100) / 100;
    return { name, control, rate_per_second: Math.round(ratePerSecond * 100) / 100, load_average: loadAverage, ...figures(outcomes), outcomes, samples };
  } finally {
    await gateway.stop();
    await simulator.stop();
  }
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-overload-bench-'));
  const unloaded = await phase(workDir, 'unloaded', 'on', 0.3 * CAPACITY_PER_SECOND, [['critical', 1]]);
  const off = await phase(workDir, 'off', 'off', LOAD_FACTOR * CAPACITY_PER_SECOND, MIX);
  const on = await phase(workDir, 'on', 'on', LOAD_FACTOR * CAPACITY_PER_SECOND, MIX);
  const queued = await phase(workDir, 'queue', 'queue', LOAD_FACTOR * CAPACITY_PER_SECOND, MIX);
  const reference = unloaded.byClass.critical?.ttft_p95_ms ?? null;
  const criticalOn = on.byClass.critical?.ttft_p95_ms ?? null;
  const ratio = (value: number | null | undefined, base: number | null | undefined): number | null =>
    value === null || value === undefined || base === null || base === undefined || base === 0 ? null : Math.round((value / base) * 100) / 100;
  const bars = {
    critical_ttft_p95_on_over_unloaded: ratio(criticalOn, reference),
    goodput_on_over_off: ratio(on.goodputPerSecond, off.goodputPerSecond),
    critical_ttft_p95_queue_over_unloaded: ratio(queued.byClass.critical?.ttft_p95_ms, reference),
    goodput_queue_over_off: ratio(queued.goodputPerSecond, off.goodputPerSecond),
  };
  // A critical request is "slow" past the bar's own limit: twice the unloaded p95.
  const slowMs = 2 * (reference ?? Number.NaN);
  const phases = [unloaded, off, on, queued].map(({ outcomes, samples, ...kept }) => ({ ...kept, diagnosis: diagnose(outcomes, samples, slowMs) }));
  const result = { capacity_per_second: Math.round(CAPACITY_PER_SECOND * 100) / 100, load_factor: LOAD_FACTOR, duration_s: DURATION_S, ttft_slo_ms: TTFT_SLO_MS, phases, bars };
  mkdirSync('test/bench/out', { recursive: true });
  writeFileSync('test/bench/out/overload.json', `${JSON.stringify(result, null, 2)}\n`);
  for (const { name, byClass, goodputPerSecond, diagnosis, load_average } of result.phases) {
    process.stdout.write(`${name.padEnd(9)} goodput ${goodputPerSecond}/s, ${diagnosis.level_transitions.length} level changes, load average ${load_average}\n`);
    for (const group of ['slow_critical', 'fast_critical'] as const) {
      const seen = diagnosis[group];
      process.stdout.write(
        `  ${group} (${group === 'slow_critical' ? '>' : '<='} ${diagnosis.slow_ms} ms) ${seen.count}: at arrival levels ${JSON.stringify(seen.levels_at_arrival)}, engine waiting ${seen.engine_waiting_median} running ${seen.engine_running_median}, standard+batch in flight ${seen.lower_class_in_flight_median} (medians)\n`,
      );
    }
    for (const [priority, f] of Object.entries(byClass)) {
      process.stdout.write(`  ${priority.padEnd(9)} sent ${f.sent} ok ${f.ok} shed ${f.shed} (${Math.round((100 * f.shed) / f.sent)} %) clamped ${f.clamped} ttft p50 ${f.ttft_p50_ms} ms p95 ${f.ttft_p95_ms} ms\n`);
    }
  }
  const verdict = (value: number | null, holds: (value: number) => boolean): string => (value !== null && holds(value) ? 'met' : 'NOT met');
  for (const variant of ['on', 'queue'] as const) {
    const ttft = variant === 'on' ? bars.critical_ttft_p95_on_over_unloaded : bars.critical_ttft_p95_queue_over_unloaded;
    const goodput = variant === 'on' ? bars.goodput_on_over_off : bars.goodput_queue_over_off;
    process.stdout.write(
      `${variant}: critical TTFT p95 / unloaded ${ttft} (bar <= 2: ${verdict(ttft, (value) => value <= 2)}), goodput / off ${goodput} (bar >= 1.5: ${verdict(goodput, (value) => value >= 1.5)})\n`,
    );
  }
}

await main();
