// How long a new gateway process takes to reach its steady throughput under the streaming load:
// fresh gateways, untraced and traced (to the minimal OTLP sink) in turn, each serving SLICES
// consecutive 2 s slices of streams of 64 unpaced chunks (`wrk -c32`) right after its first 2 s.
// Prints each slice's req/s and CPU per request (event loop; V8's four helper threads, where
// concurrent compilation and marking run; the other threads, the export thread among them), then
// per variant the median req/s of each slice over its lives. What it showed (RESULTS.md, session 11)
// sets the tracing benchmark's warm-up.
// Needs `npm run build`. Run:
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/warm-up-curve.mjs [LIVES=3] [SLICES=12]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
const here = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
process.chdir(here);
const { startNodeServer, environmentWithoutOtel } = await import(`${here}/dist/test/bench/node-server.js`);
const { UNPACED_SIMULATOR_CONFIG } = await import(`${here}/dist/test/bench/report.js`);
const { CHAT_PATH, chatBody, simHeaders } = await import(`${here}/dist/test/bench/scenario.js`);
const { writeWrkScript, runWrk } = await import(`${here}/dist/test/bench/wrk.js`);
const { threadCpuSeconds } = await import(`${here}/dist/test/bench/procfs.js`);
const { freePorts } = await import(`${here}/dist/test/helpers/free-ports.js`);

const [livesText = '3', slicesText = '12'] = process.argv.slice(2);
const lives = Number(livesText);
const slices = Number(slicesText);
if (!Number.isInteger(lives) || lives < 1 || !Number.isInteger(slices) || slices < 1) throw new Error('usage: warm-up-curve.mjs [LIVES] [SLICES]');
const SLICE_SECONDS = 2;
/** Node starts V8's four platform worker threads right after one scheduler thread: main thread's id + 2 to + 5. */
const isV8Helper = (distance) => distance >= 2 && distance <= 5;

const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-warm-up-'));
const [sinkPort, simPort, ...gatewayPorts] = await freePorts(2 + 2 * lives);
const sink = spawn(process.execPath, [`${here}/dist/test/bench/otlp-sink.js`, String(sinkPort)], { stdio: 'ignore' });
const sim = await startNodeServer({ name: 'sim', command: 'sim', config: { ...UNPACED_SIMULATOR_CONFIG, port: simPort }, port: simPort, env: environmentWithoutOtel(), readyPath: '/health', workDir });
const script = join(workDir, 'stream.lua');
writeWrkScript(script, { path: CHAT_PATH, body: chatBody(true), headers: simHeaders({ tokens: 64, interTokenMs: 0, ttftMs: 0 }) });
const variants = [
  { name: 'off', env: environmentWithoutOtel() },
  { name: 'traced', env: { ...environmentWithoutOtel(), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`, OTEL_TRACES_SAMPLER: 'always_on' } },
];
const curves = new Map(variants.map((variant) => [variant.name, Array.from({ length: slices }, () => [])]));
try {
  for (let life = 0; life < lives; life++) {
    for (const [index, variant] of variants.entries()) {
      const port = gatewayPorts[life * variants.length + index];
      const config = { server: { host: '127.0.0.1', port }, replicas: [{ name: 'sim', url: sim.url, models: ['tollbooth-sim-model'] }], auth: { enabled: false } };
      const server = await startNodeServer({ name: `${variant.name}-${life + 1}`, command: 'start', config, port, env: variant.env, readyPath: '/ready', workDir });
      try {
        await runWrk(server.url, script, 32, SLICE_SECONDS);
        for (let slice = 0; slice < slices; slice++) {
          const before = threadCpuSeconds(server.pid);
          const wrk = await runWrk(server.url, script, 32, SLICE_SECONDS);
          const after = threadCpuSeconds(server.pid);
          const usPerRequest = { loop: 0, helpers: 0, rest: 0 };
          for (const [tid, cpu] of after) {
            const distance = tid - server.pid;
            const us = ((cpu - (before.get(tid) ?? 0)) / wrk.requests) * 1e6;
            usPerRequest[distance === 0 ? 'loop' : isV8Helper(distance) ? 'helpers' : 'rest'] += us;
          }
          curves.get(variant.name)[slice].push(wrk.requestsPerSecond);
          console.log(
            `${variant.name.padEnd(6)} life ${life + 1} slice ${String(slice + 1).padStart(2)} (load ${(SLICE_SECONDS * (slice + 2)).toString().padStart(2)} s): ` +
              `${wrk.requestsPerSecond.toFixed(0).padStart(5)} req/s, µs/request: event loop ${usPerRequest.loop.toFixed(0)}, V8 helpers ${usPerRequest.helpers.toFixed(0)}, other threads ${usPerRequest.rest.toFixed(0)}`,
          );
          // As the tracing benchmark does between rounds: queued spans leave before the next slice.
          await sleep(500);
        }
      } finally {
        await server.stop();
      }
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const [name, curve] of curves) console.log(`${name.padEnd(6)} median req/s by slice: ${curve.map((values) => median(values).toFixed(0)).join(' ')}`);
} finally {
  await sim.stop();
  sink.kill();
  rmSync(workDir, { recursive: true, force: true });
}
