// Interleaved A/B of gateway variants that differ by environment or by build, in front of one
// simulator, exporting (when traced) to the minimal OTLP sink: streams of 64 unpaced chunks,
// `wrk -c32`, each variant in turn for `seconds`, the order rotating and reversing every round.
// Prints per variant the median req/s and CPU per request of the event loop (main thread) and
// of the whole process, and the medians of the per-round differences against the first variant;
// then where the rest of the process's CPU went: each other thread that used 0.5 µs per request or
// more over all rounds, named by its id's distance from the main thread's (creation order: V8's
// helper threads first, a worker thread such as the export thread later; Node names them all `node`).
// Each variant runs as PROCESSES gateway processes (default 2), one per round, paired as the tracing
// bench pairs them (test/bench/pairing.ts): two processes of one build were seen to serve a few per
// cent apart for a whole run (RESULTS.md, session 10, inside their warm-up), which one process per
// variant would leave in every round; the thread figures are summed over a variant's processes, by
// the same distance. Each process first serves WARM_UP seconds of load (default 20), as in the
// tracing benchmark: V8 compiles for the first 10-15 s of a gateway's load.
// Needs `npm run build` (and a built checkout for a `cwd` variant). Run:
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/gateway-ab.mjs ROUNDS SECONDS 'VARIANTS' [PROCESSES] [WARM_UP]
// VARIANTS is JSON: [{"name":"off","env":{}},{"name":"on","env":{"OTEL_EXPORTER_OTLP_ENDPOINT":"sink"}},
//   {"name":"old","cwd":"/path/to/other/checkout","env":{...}}]; the endpoint "sink" means the sink.
// Indicative: the tracing benchmark (`npm run bench:tracing`) is the measurement of record.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
const here = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const { startNodeServer, environmentWithoutOtel } = await import(`${here}/dist/test/bench/node-server.js`);
const { UNPACED_SIMULATOR_CONFIG } = await import(`${here}/dist/test/bench/report.js`);
const { CHAT_PATH, chatBody, simHeaders } = await import(`${here}/dist/test/bench/scenario.js`);
const { writeWrkScript, runWrk } = await import(`${here}/dist/test/bench/wrk.js`);
const { cpuSeconds, eventLoopCpuSeconds, threadCpuSeconds } = await import(`${here}/dist/test/bench/procfs.js`);
const { freePorts } = await import(`${here}/dist/test/helpers/free-ports.js`);
const { processOfRound } = await import(`${here}/dist/test/bench/pairing.js`);

const [roundsText, secondsText, variantsText, processesText = '2', warmUpText = '20'] = process.argv.slice(2);
const rounds = Number(roundsText);
const seconds = Number(secondsText);
const variants = JSON.parse(variantsText ?? '[]');
const processes = Number(processesText);
const warmUp = Number(warmUpText);
if (!(rounds > 0) || !(seconds > 0) || variants.length < 2 || !Number.isInteger(processes) || processes < 1 || !Number.isInteger(warmUp) || warmUp < 1) {
  throw new Error("usage: gateway-ab.mjs ROUNDS SECONDS '[{\"name\":…,\"env\":{…}}, …]' [PROCESSES] [WARM_UP]");
}

const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-gateway-ab-'));
const [sinkPort, simPort, ...gatewayPorts] = await freePorts(2 + variants.length * processes);
const sink = spawn(process.execPath, [`${here}/dist/test/bench/otlp-sink.js`, String(sinkPort)], { stdio: 'ignore' });
const sim = await startNodeServer({ name: 'sim', command: 'sim', config: { ...UNPACED_SIMULATOR_CONFIG, port: simPort }, port: simPort, env: environmentWithoutOtel(), readyPath: '/health', workDir });
const gateways = [];
try {
  for (const [index, variant] of variants.entries()) {
    const env = { ...environmentWithoutOtel(), ...variant.env };
    if (env.OTEL_EXPORTER_OTLP_ENDPOINT === 'sink') env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkPort}`;
    const servers = [];
    for (let copy = 0; copy < processes; copy++) {
      const port = gatewayPorts[index * processes + copy];
      const config = { server: { host: '127.0.0.1', port }, replicas: [{ name: 'sim', url: sim.url, models: ['tollbooth-sim-model'] }], auth: { enabled: false } };
      // The server helper starts the CLI relative to the working directory: a `cwd` variant runs another checkout's build.
      process.chdir(variant.cwd ?? here);
      servers.push(await startNodeServer({ name: `${variant.name}-${copy + 1}`, command: 'start', config, port, env, readyPath: '/ready', workDir }));
      process.chdir(here);
    }
    gateways.push({ name: variant.name, servers, baseline: index === 0 });
  }
  const script = join(workDir, 'stream.lua');
  writeWrkScript(script, { path: CHAT_PATH, body: chatBody(true), headers: simHeaders({ tokens: 64, interTokenMs: 0, ttftMs: 0 }) });
  for (const gateway of gateways) for (const server of gateway.servers) await runWrk(server.url, script, 32, warmUp);
  const results = new Map(gateways.map((gateway) => [gateway.name, []]));
  // Per variant: CPU seconds of each thread other than the main one over all rounds (by distance from the main thread's id), and the requests served.
  const threads = new Map(gateways.map((gateway) => [gateway.name, { seconds: new Map(), requests: 0 }]));
  for (let round = 0; round < rounds; round++) {
    const rotated = gateways.map((_, index) => gateways[(index + round) % gateways.length]);
    for (const { name, servers, baseline } of round % 2 === 0 ? rotated : rotated.reverse()) {
      const server = servers[processOfRound(round, processes, !baseline)];
      const process0 = cpuSeconds(server.pid);
      const loop0 = eventLoopCpuSeconds(server.pid);
      const threads0 = threadCpuSeconds(server.pid);
      const wrk = await runWrk(server.url, script, 32, seconds);
      const account = threads.get(name);
      for (const [tid, cpu] of threadCpuSeconds(server.pid)) {
        const distance = tid - server.pid;
        if (distance !== 0) account.seconds.set(distance, (account.seconds.get(distance) ?? 0) + cpu - (threads0.get(tid) ?? 0));
      }
      account.requests += wrk.requests;
      const perRequest = (value) => (value / wrk.requests) * 1e6;
      results.get(name).push({ rps: wrk.requestsPerSecond, processUs: perRequest(cpuSeconds(server.pid) - process0), eventLoopUs: perRequest(eventLoopCpuSeconds(server.pid) - loop0) });
      // Let the traced variants' queued spans leave before the next measurement.
      await sleep(1000);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const base = results.get(gateways[0].name);
  for (const { name } of gateways) {
    const runs = results.get(name);
    const against = (pick) => median(runs.map((run, index) => pick(run) - pick(base[index])));
    console.log(
      `${name.padEnd(10)} ${median(runs.map((run) => run.rps)).toFixed(0)} req/s, event loop ${median(runs.map((run) => run.eventLoopUs)).toFixed(0)} µs/request, process ${median(runs.map((run) => run.processUs)).toFixed(0)} µs/request` +
        ` | against ${gateways[0].name}: event loop ${against((run) => run.eventLoopUs).toFixed(1)} µs, process ${against((run) => run.processUs).toFixed(1)} µs, req/s ratio ${median(runs.map((run, index) => run.rps / base[index].rps)).toFixed(3)}`,
    );
  }
  for (const { name } of gateways) {
    const { seconds: perThread, requests } = threads.get(name);
    const busy = [...perThread].filter(([, cpu]) => (cpu / requests) * 1e6 >= 0.5).sort(([a], [b]) => a - b);
    console.log(`${name.padEnd(10)} other threads, µs/request over all rounds: ${busy.map(([distance, cpu]) => `+${distance} ${((cpu / requests) * 1e6).toFixed(1)}`).join(', ') || 'none'}`);
  }
} finally {
  for (const { servers } of gateways) for (const server of servers) await server.stop();
  await sim.stop();
  sink.kill();
  rmSync(workDir, { recursive: true, force: true });
}
