// Instructions a gateway executes for N streamed chats (64 unpaced chunks, 8 at a time), counted by
// cachegrind, with tracing on (100% sampling, OTLP/HTTP to a live Jaeger, OTEL_BSP_SCHEDULE_DELAY 200)
// or off. Needs `npm run build` and valgrind; `distRoot` is a built checkout (this one's `dist`, or an
// older build's, to compare). Per request: run two counts and divide the difference, so start-up and
// warm-up cancel out (2500 and 4500 reach a steady state; under valgrind about 55 requests/s):
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/instructions-per-request.mjs dist on 2500
//   flock /tmp/tollbooth-bench.lock node test/bench/tracing/instructions-per-request.mjs dist on 4500
// Prints {distRoot, mode, count, failed, refs (all instructions of the gateway process), seconds}.
// `--out FILE` keeps cachegrind's per-function counts (cg_annotate, cg_diff).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
const here = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const root = `${here}/dist/test`;
const { startNodeServer, environmentWithoutOtel } = await import(`${root}/bench/node-server.js`);
const { startJaeger } = await import(`${root}/helpers/jaeger.js`);
const { freePorts } = await import(`${root}/helpers/free-ports.js`);
const { CHAT_PATH, chatBody, simHeaders } = await import(`${root}/bench/scenario.js`);
const { UNPACED_SIMULATOR_CONFIG } = await import(`${root}/bench/report.js`);
const [distArg, mode, countText] = process.argv.slice(2);
const distRoot = distArg.startsWith('/') ? distArg : join(here, distArg);
const outIndex = process.argv.indexOf('--out');
const outFile = outIndex > 0 ? process.argv[outIndex + 1] : '/dev/null';
if ((mode !== 'on' && mode !== 'off') || !(Number(countText) > 0)) throw new Error('usage: instructions-per-request.mjs <dist> <on|off> <requests> [--out FILE]');
const count = Number(countText);
const workDir = mkdtempSync(join(tmpdir(), 'tollbooth-instructions-'));
const jaeger = await startJaeger({ maxTraces: 50_000 });
const [simPort, gwPort] = await freePorts(2);
const sim = await startNodeServer({ name: 'sim', command: 'sim', config: { ...UNPACED_SIMULATOR_CONFIG, port: simPort }, port: simPort, env: environmentWithoutOtel(), readyPath: '/health', workDir });
const env = { TOLLBOOTH_ADMIN_PORT: '0', ...environmentWithoutOtel() };
if (mode === 'on') Object.assign(env, { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'ic', OTEL_BSP_SCHEDULE_DELAY: '200' });
const configFile = join(workDir, 'gw.yaml');
writeFileSync(configFile, stringify({ server: { host: '127.0.0.1', port: gwPort }, replicas: [{ name: 'sim', url: sim.url, models: ['tollbooth-sim-model'] }], auth: { enabled: false } }));
const log = join(workDir, 'vg.log');
const child = spawn('valgrind', ['--tool=cachegrind', '--cache-sim=no', `--cachegrind-out-file=${outFile}`, `--log-file=${log}`, process.execPath, '--single-threaded', join(distRoot, 'src/cli/tollbooth.js'), 'start', '--config', configFile], { env, stdio: ['ignore', 'ignore', 'inherit'] });
const exited = new Promise((done) => child.once('exit', done));
const url = `http://127.0.0.1:${gwPort}`;
for (let i = 0; ; i++) {
  try { const r = await fetch(`${url}/ready`); await r.arrayBuffer(); if (r.ok) break; } catch {}
  if (i > 600) throw new Error('not ready');
  await sleep(200);
}
const headers = simHeaders({ tokens: 64, interTokenMs: 0, ttftMs: 0 });
const body = chatBody(true);
let next = 0, failed = 0;
async function worker() {
  while (next < count) {
    next++;
    const r = await fetch(`${url}${CHAT_PATH}`, { method: 'POST', headers, body });
    const text = await r.text();
    if (r.status !== 200 || !text.includes('[DONE]')) failed++;
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: 8 }, worker));
await sleep(1500);
child.kill('SIGTERM');
await exited;
const summary = readFileSync(log, 'utf8');
const refs = Number(/I\s+refs:\s+([\d,]+)/.exec(summary)?.[1].replace(/,/g, ''));
console.log(JSON.stringify({ distRoot, mode, count, failed, refs, seconds: (Date.now() - t0) / 1000 }));
await sim.stop();
await jaeger.stop();
rmSync(workDir, { recursive: true, force: true });
