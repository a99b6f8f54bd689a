/**
 * CPU per anomaly evaluation (not part of the tests): the timer's work when a statistics slot
 * closes (reading it per model and replica, six signals each, the detectors, the incidents) and
 * when it does not (sampling the engine queues), for a fleet of MODELS models on REPLICAS
 * replicas, every slot holding REQUESTS_PER_SLOT requests. Nothing here runs per request: the
 * requests are recorded into the statistics as the gateway already does, before the timing.
 * Run after `npm run build`: `node dist/test/bench/anomaly-tick-cost.js`.
 */
import pino from 'pino';
import { anomalyConfigSchema } from '../../src/analytics/anomaly/config.js';
import { AnomalyMonitor } from '../../src/analytics/anomaly/monitor.js';
import { anomaliesReport } from '../../src/analytics/anomaly/report.js';
import { AnomalyRunner, type ReplicaView } from '../../src/analytics/anomaly/runner.js';
import { InternalErrors } from '../../src/errors/internal-errors.js';
import { RequestStatistics } from '../../src/telemetry/stats/request-statistics.js';

const MODELS = 8;
const REPLICAS = 32;
const REQUESTS_PER_SLOT = 2_000;
const SLOTS = 300;
const SLOT_MS = 10_000;

const settings = anomalyConfigSchema.parse({});
const statistics = new RequestStatistics({ windowMs: 60_000, slotMs: SLOT_MS, currency: 'USD', startedAtMs: 0 });
const monitor = new AnomalyMonitor(settings, SLOT_MS);
const replicas: ReplicaView[] = Array.from({ length: REPLICAS }, (_, i) => ({
  name: `replica-${i}`,
  models: new Set([`model-${i % MODELS}`]),
  engineStats: { waiting: i % 3 },
}));
const silent = pino({ level: 'silent' });
const runner = new AnomalyRunner({ monitor, statistics, replicas: () => replicas, settings, log: silent, internalErrors: new InternalErrors(silent) });

let closingCpu = 0;
let samplingCpu = 0;
let samplingTicks = 0;
const t0 = 1_000_000 * SLOT_MS;
runner.tick(t0);
for (let slot = 0; slot < SLOTS; slot++) {
  const start = t0 + slot * SLOT_MS;
  for (let i = 0; i < REQUESTS_PER_SLOT; i++) {
    const replica = i % REPLICAS;
    statistics.record({
      model: `model-${replica % MODELS}`,
      replica: `replica-${replica}`,
      tenant: 'none',
      routingOutcome: null,
      endedAtMs: start + (i * SLOT_MS) / REQUESTS_PER_SLOT,
      success: i % 500 !== 0,
      errorType: i % 500 === 0 ? 'upstream_5xx' : null,
      latencyMs: 400 + (i % 97),
      ttftMs: 40 + (i % 31) + (slot % 7),
      decodeTokensPerSecond: 90 + (i % 13),
      inputTokens: 300,
      cachedInputTokens: 0,
      outputTokens: 40,
      tokensEstimated: false,
      costNanos: 0n,
    });
  }
  // Four sampling ticks while the slot is open, then the tick that finds it closed.
  for (let tick = 1; tick <= 4; tick++) {
    const before = process.cpuUsage();
    runner.tick(start + tick * 2_000);
    const spent = process.cpuUsage(before);
    samplingCpu += spent.user + spent.system;
    samplingTicks += 1;
  }
  const before = process.cpuUsage();
  runner.tick(start + SLOT_MS + 50);
  const spent = process.cpuUsage(before);
  closingCpu += spent.user + spent.system;
}
const reportBefore = process.cpuUsage();
const report = anomaliesReport(monitor, settings, SLOT_MS, t0 + SLOTS * SLOT_MS);
const reportCpu = process.cpuUsage(reportBefore);

console.log(`fleet: ${MODELS} models, ${REPLICAS} replicas, ${REQUESTS_PER_SLOT} requests per ${SLOT_MS / 1000} s slot; ${monitor.trackCount} series; ${SLOTS} slots`);
console.log(`tick that judges a closed slot: ${(closingCpu / SLOTS).toFixed(0)} µs CPU on average`);
console.log(`tick that only samples the queues: ${(samplingCpu / samplingTicks).toFixed(1)} µs CPU on average`);
console.log(`GET /api/v1/anomalies body (${report.active_count} active): ${reportCpu.user + reportCpu.system} µs CPU`);
console.log(`share of one core at the default ${settings.sampleIntervalMs} ms interval: ${((100 * (closingCpu / SLOTS + (4 * samplingCpu) / samplingTicks)) / (SLOT_MS * 1000)).toFixed(3)} %`);
