/**
 * CPU per access line (not part of the tests): pino's serialisation straight into pino's
 * asynchronous destination (SonicBoom), as before; the same through `CoalescingDestination`; and
 * `accessLineWriter` through it, as the gateway writes now. Lines go to /dev/null; `LINES_PER_TURN`
 * lines are written per event-loop turn (a gateway finishing that many requests in one turn), and
 * CPU is the process's user + system time, the destination's writes included.
 * Run after `npm run build`: `node dist/test/bench/access-log-cost.js`.
 */
import pino from 'pino';
import { accessLineWriter, type AccessLogRecord } from '../../src/telemetry/access-log.js';
import { CoalescingDestination } from '../../src/telemetry/log-destination.js';
import { createLogger, flushLogs } from '../../src/telemetry/logger.js';

const LINES = 100_000;

function record(i: number): AccessLogRecord {
  return {
    request_id: `req-${i}`, method: 'POST', route: '/v1/chat/completions', key_id: null, tenant: null, model: 'tollbooth-sim-model',
    replica: 'sim', routing: 'affinity', session_key: null, failovers: 0, status: 200, stream: true, outcome: 'success',
    duration_ms: 5.123, ttft_ms: 0.412, tpot_ms: 0.057, overhead_ms: 0.451, upstream_headers_ms: 0.25, input_tokens: 20,
    cached_input_tokens: 0, output_tokens: 64, tokens_source: 'exact', cost: '0.0000414', cost_currency: 'USD', cost_basis: 'tokens',
    bytes: 20_000, client_disconnected: false, error_code: null, rate_limit: null, limited_by: null, trace_id: null, span_id: null,
  } as unknown as AccessLogRecord;
}

const devNull = () => pino.destination({ dest: '/dev/null', sync: false });
const variants = {
  'pino → SonicBoom (before)': () => {
    const log = createLogger('info', devNull()).child({ component: 'access' });
    return { write: (r: AccessLogRecord) => log.info(r, 'request'), log };
  },
  'pino → coalescing → SonicBoom': () => {
    const log = createLogger('info', new CoalescingDestination(devNull())).child({ component: 'access' });
    return { write: (r: AccessLogRecord) => log.info(r, 'request'), log };
  },
  'accessLineWriter → coalescing → SonicBoom (now)': () => {
    const log = createLogger('info', new CoalescingDestination(devNull())).child({ component: 'access' });
    return { write: accessLineWriter(log), log };
  },
};

const records = Array.from({ length: LINES }, (_, i) => record(i));
for (const linesPerTurn of [1, 4, 32]) {
  for (const [name, make] of Object.entries(variants)) {
    const samples: number[] = [];
    for (let round = 0; round < 3; round++) {
      const { write, log } = make();
      for (let i = 0; i < 10_000; i++) write(records[i]!);
      await flushLogs(log);
      const before = process.cpuUsage();
      for (let i = 0; i < LINES; i++) {
        write(records[i]!);
        if (i % linesPerTurn === linesPerTurn - 1) await new Promise((done) => setImmediate(done));
      }
      await flushLogs(log);
      const used = process.cpuUsage(before);
      samples.push((used.user + used.system) / LINES);
    }
    samples.sort((a, b) => a - b);
    console.log(`${String(linesPerTurn).padStart(2)} lines/turn  ${name.padEnd(48)} ${samples[1]!.toFixed(2)} µs CPU per line (median of 3)`);
  }
}
