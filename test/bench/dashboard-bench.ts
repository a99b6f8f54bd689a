/**
 * What open dashboards cost the gateway: streaming load through one gateway process, in rounds
 * that alternate between no subscriber and 10 subscribers of GET /api/v1/metrics/stream (what 10
 * open /dashboard pages hold), side by side in one run. Per round, from /proc: the gateway's CPU
 * time per completed stream, and the streams per second the load generator saw.
 *
 *   npm run bench:dashboard [-- --rounds=6 --round-ms=8000 --concurrency=16]
 *
 * The gateway and the simulator are processes of their own (the built CLI), the load generator is
 * a third (stream-load.js); the subscribers are read by this process, which is not measured. The
 * noise is the spread of the rounds of one condition: a difference inside it is no difference.
 */
import { request, type ClientRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts } from '../helpers/free-ports.js';
import { environmentWithoutOtel, startNodeServer } from './node-server.js';
import { cpuSeconds } from './procfs.js';
import { positiveNumber, runBenchmark, UNPACED_SIMULATOR_CONFIG } from './report.js';
import { spreadOf, type Spread } from './stats.js';
import { runStreamLoad } from './stream-load-process.js';

const SUBSCRIBERS = [0, 10] as const;
const TOKENS = 16;
const IDLE_MS = 10_000;
/** The simulator's default model, which the load generator's requests name (scenario.ts). */
const MODEL = 'tollbooth-sim-model';

interface Round {
  readonly subscribers: number;
  readonly cpuMicrosPerStream: number;
  readonly streamsPerSecond: number;
  readonly events: number;
}

/** `count` open subscriptions to the stream, counting the events they receive. */
function subscribe(url: string, count: number): { events(): number; close(): void } {
  let events = 0;
  const requests: ClientRequest[] = [];
  for (let i = 0; i < count; i++) {
    const client = request(url, (response) => {
      if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
      response.setEncoding('utf8');
      response.on('data', (text: string) => {
        events += text.split('\n\n').length - 1;
      });
      response.on('error', () => {});
    });
    client.on('error', () => {});
    client.end();
    requests.push(client);
  }
  return { events: () => events, close: () => requests.forEach((client) => client.destroy()) };
}

function line(label: string, spread: Spread, unit: string, digits: number): string {
  return `| ${label} | ${spread.median.toFixed(digits)} ${unit} | ${spread.min.toFixed(digits)}–${spread.max.toFixed(digits)} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '6' }, 'round-ms': { type: 'string', default: '8000' }, concurrency: { type: 'string', default: '16' } },
  });
  const pairs = positiveNumber('rounds', values.rounds);
  const roundMs = positiveNumber('round-ms', values['round-ms']);
  const concurrency = positiveNumber('concurrency', values.concurrency);
  const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-dashboard-bench-'));
  const [simPort, gatewayPort, adminPort] = (await freePorts(3)) as [number, number, number];
  const env = environmentWithoutOtel();
  const simulator = await startNodeServer({ name: 'sim', command: 'sim', config: { ...UNPACED_SIMULATOR_CONFIG, port: simPort }, port: simPort, env, readyPath: '/health', workDir });
  const gateway = await startNodeServer({
    name: 'gateway',
    command: 'start',
    config: {
      server: { host: '127.0.0.1', port: gatewayPort },
      admin: { host: '127.0.0.1', port: adminPort },
      replicas: [{ name: 'sim', url: simulator.url, models: [MODEL] }],
      auth: { enabled: false },
    },
    port: gatewayPort,
    env: { ...env, TOLLBOOTH_ADMIN_PORT: String(adminPort) },
    readyPath: '/ready',
    workDir,
  });
  const streamUrl = `http://127.0.0.1:${adminPort}/api/v1/metrics/stream`;
  const rounds: Round[] = [];
  const idleCpuMsPerSecond = new Map<number, number>();
  try {
    // Without load: what the subscribers alone cost (the once-a-second snapshot and its writes).
    for (const subscribers of SUBSCRIBERS) {
      const subscription = subscribe(streamUrl, subscribers);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const cpuBefore = cpuSeconds(gateway.pid);
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      idleCpuMsPerSecond.set(subscribers, ((cpuSeconds(gateway.pid) - cpuBefore) * 1000) / (IDLE_MS / 1000));
      subscription.close();
    }
    // A first round to warm up the JIT and the connection pools, not counted.
    await runStreamLoad({ url: gateway.url, concurrency, tokens: TOKENS, interTokenMs: 0, ttftMs: 0, durationMs: 3_000, warmupMs: 0, rampMs: 500, deadlineMs: 60_000 });
    for (let pair = 0; pair < pairs; pair++) {
      // ABBA order, so a drift of the machine over the run falls on both conditions alike.
      const order = pair % 2 === 0 ? SUBSCRIBERS : [...SUBSCRIBERS].reverse();
      for (const subscribers of order) {
        const subscription = subscribe(streamUrl, subscribers);
        // Let them connect and get their first event before the measurement starts.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const cpuBefore = cpuSeconds(gateway.pid);
        const result = await runStreamLoad({ url: gateway.url, concurrency, tokens: TOKENS, interTokenMs: 0, ttftMs: 0, durationMs: roundMs, warmupMs: 0, rampMs: 500, deadlineMs: roundMs + 60_000 });
        const cpu = cpuSeconds(gateway.pid) - cpuBefore;
        const events = subscription.events();
        subscription.close();
        if (result.failed > 0) throw new Error(`${result.failed} streams failed: ${result.firstErrors.join('; ')}`);
        if (subscribers > 0 && events < subscribers * Math.floor(roundMs / 1_000)) throw new Error(`the ${subscribers} subscribers got only ${events} events in ${roundMs} ms`);
        const round: Round = { subscribers, cpuMicrosPerStream: (cpu * 1e6) / result.completed, streamsPerSecond: result.streamsPerSecond, events };
        rounds.push(round);
        process.stdout.write(`round ${rounds.length}: ${subscribers} subscribers, ${round.streamsPerSecond.toFixed(0)} streams/s, ${round.cpuMicrosPerStream.toFixed(0)} µs CPU per stream, ${events} events\n`);
        // Idle between rounds: the subscribers' close must have stopped the timer before the next one.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await gateway.stop();
    await simulator.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const of = (subscribers: number, read: (round: Round) => number): Spread => spreadOf(rounds.filter((round) => round.subscribers === subscribers).map(read));
  const rows: string[] = ['| figure | median | range over rounds |', '| --- | --- | --- |'];
  for (const subscribers of SUBSCRIBERS) {
    rows.push(line(`gateway CPU per stream, ${subscribers} subscribers`, of(subscribers, (round) => round.cpuMicrosPerStream), 'µs', 0));
    rows.push(line(`throughput, ${subscribers} subscribers`, of(subscribers, (round) => round.streamsPerSecond), 'streams/s', 0));
  }
  const idleCpu = of(0, (round) => round.cpuMicrosPerStream);
  const watchedCpu = of(10, (round) => round.cpuMicrosPerStream);
  const idleRate = of(0, (round) => round.streamsPerSecond);
  const watchedRate = of(10, (round) => round.streamsPerSecond);
  const percent = (a: number, b: number): string => `${(((b - a) / a) * 100).toFixed(1)} %`;
  for (const subscribers of SUBSCRIBERS) rows.push(`| idle gateway CPU, ${subscribers} subscribers | ${idleCpuMsPerSecond.get(subscribers)!.toFixed(1)} ms/s | one ${IDLE_MS / 1000} s measurement |`);
  rows.push('');
  rows.push(`CPU per stream, 10 vs 0 subscribers: ${percent(idleCpu.median, watchedCpu.median)}; noise (range of the 0-subscriber rounds): ${percent(idleCpu.median, idleCpu.max)} / ${percent(idleCpu.median, idleCpu.min)}`);
  rows.push(`Throughput, 10 vs 0 subscribers: ${percent(idleRate.median, watchedRate.median)}; noise: ${percent(idleRate.median, idleRate.max)} / ${percent(idleRate.median, idleRate.min)}`);
  rows.push(`(${pairs} rounds of each, ${roundMs / 1000} s of ${concurrency} concurrent unpaced ${TOKENS}-token streams per round, one gateway process)`);
  process.stdout.write(`\n${rows.join('\n')}\n`);
}

runBenchmark('dashboard-bench', main);
