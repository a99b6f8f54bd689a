/**
 * Streaming load generator, run as its own process so its CPU is separate from the benchmark
 * orchestrator's (and measurable: it reports process.cpuUsage()).
 *
 * `concurrency` workers each run streams back to back over a keep-alive agent until
 * `--duration-ms` (or `--max-streams`) is reached; `--deadline-ms` aborts whatever is still open.
 * Worker starts are spread over `--ramp-ms` so the streams are not phase-locked, and streams
 * started before `--warmup-ms` (connection set-up, JIT warm-up) are left out of the figures.
 * With `--once` every worker runs exactly one stream and a `{"type":"open"}` line is printed as
 * soon as all of them have received content: the memory scenario samples RSS after that.
 *
 * Per stream it records, with performance.now(): headers, first body byte, first content-bearing
 * SSE frame, and the gaps between successive reads that complete frames after the first content.
 * Output: JSON lines on stdout, the last one `{"type":"result", ...}`.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { runBenchmark } from './report.js';
import { CHAT_PATH, chatBody, simHeaders } from './scenario.js';
import { SseScanner } from './sse-scan.js';
import { summarize, type Summary } from './stats.js';

export interface StreamLoadResult {
  readonly type: 'result';
  readonly concurrency: number;
  readonly started: number;
  readonly completed: number;
  readonly failed: number;
  /** Completed streams that count (started after the warm-up). */
  readonly measured: number;
  readonly firstErrors: readonly string[];
  readonly wallSeconds: number;
  readonly streamsPerSecond: number;
  readonly headersMs: Summary;
  readonly firstByteMs: Summary;
  readonly firstContentMs: Summary;
  readonly gapMs: Summary;
  readonly streamMs: Summary;
  readonly framesPerStream: Summary;
  /** The generator's own CPU time, and that as a share of one core over the run. */
  readonly cpuSeconds: number;
  readonly cpuCores: number;
  /**
   * With `--id-prefix`: the measured streams as [x-request-id, first content ms after the request
   * started], for matching against the gateway's access log and the simulator's truth.
   */
  readonly samples?: readonly (readonly [string, number])[];
}

interface Options {
  readonly url: URL;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly rampMs: number;
  readonly maxStreams: number;
  readonly deadlineMs: number;
  readonly once: boolean;
  readonly tokens: number;
  readonly interTokenMs: number;
  readonly ttftMs: number;
  /** When set, stream k sends `x-request-id: <prefix>-<k>` and is reported in `samples`. */
  readonly idPrefix: string | undefined;
  /** Sent with every stream besides the scenario's (`--header='name: value'`, repeatable): an API key. */
  readonly headers: Readonly<Record<string, string>>;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      concurrency: { type: 'string', default: '100' },
      'duration-ms': { type: 'string', default: '6000' },
      'warmup-ms': { type: 'string', default: '0' },
      'ramp-ms': { type: 'string', default: '0' },
      'max-streams': { type: 'string', default: '1000000' },
      'deadline-ms': { type: 'string', default: '30000' },
      once: { type: 'boolean', default: false },
      tokens: { type: 'string', default: '64' },
      'itl-ms': { type: 'string', default: '20' },
      'ttft-ms': { type: 'string', default: '5' },
      'id-prefix': { type: 'string' },
      header: { type: 'string', multiple: true, default: [] },
    },
  });
  if (values.url === undefined) throw new Error('--url is required');
  const number = (name: string, text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a non-negative number, got '${text}'`);
    return value;
  };
  return {
    url: new URL(CHAT_PATH, values.url),
    concurrency: number('concurrency', values.concurrency),
    durationMs: number('duration-ms', values['duration-ms']),
    warmupMs: number('warmup-ms', values['warmup-ms']),
    rampMs: number('ramp-ms', values['ramp-ms']),
    maxStreams: number('max-streams', values['max-streams']),
    deadlineMs: number('deadline-ms', values['deadline-ms']),
    once: values.once,
    tokens: number('tokens', values.tokens),
    interTokenMs: number('itl-ms', values['itl-ms']),
    ttftMs: number('ttft-ms', values['ttft-ms']),
    idPrefix: values['id-prefix'],
    headers: Object.fromEntries(values.header.map(parseHeader)),
  };
}

/** `name: value` → [lower-case name, value]. */
function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new Error(`--header needs 'name: value', got '${text}'`);
  return [text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim()];
}

/** Samples of the streams that count; gaps go straight into one array to keep per-stream objects small. */
class Recorder {
  readonly headers: number[] = [];
  readonly firstByte: number[] = [];
  readonly firstContent: number[] = [];
  readonly gaps: number[] = [];
  readonly total: number[] = [];
  readonly frames: number[] = [];
  /** [request id, first content ms] of measured streams, when streams carry ids. */
  readonly samples: [string, number][] = [];
  readonly errors: string[] = [];
  started = 0;
  completed = 0;
  failed = 0;
  contentReached = 0;

  fail(message: string): void {
    this.failed++;
    if (this.errors.length < 5) this.errors.push(message);
  }
}

function runStream(
  options: Options,
  agent: Agent,
  body: string,
  recorder: Recorder,
  measured: boolean,
  requestId: string | undefined,
  onContent: () => void,
): Promise<void> {
  return new Promise((resolve) => {
    const idHeader: Record<string, string> = requestId === undefined ? {} : { 'x-request-id': requestId };
    const startedAt = performance.now();
    let firstByteAt = 0;
    let firstContentAt = 0;
    let lastFrameAt = 0;
    const scanner = new SseScanner();
    const req = request(options.url, {
      method: 'POST',
      agent,
      headers: { ...simHeaders(options), ...options.headers, ...idHeader, 'content-length': Buffer.byteLength(body) },
    });
    req.on('response', (res: IncomingMessage) => {
      const headersAt = performance.now();
      if (res.statusCode !== 200) {
        recorder.fail(`HTTP ${res.statusCode}`);
        res.resume();
        res.on('end', resolve);
        return;
      }
      res.on('data', (chunk: Buffer) => {
        const now = performance.now();
        if (firstByteAt === 0) firstByteAt = now;
        const hadContent = scanner.contentSeen;
        if (scanner.push(chunk) === 0) return;
        if (!hadContent && scanner.contentSeen) {
          firstContentAt = now;
          onContent();
        } else if (hadContent && measured) {
          recorder.gaps.push(now - lastFrameAt);
        }
        lastFrameAt = now;
      });
      res.on('end', () => {
        recorder.completed++;
        if (measured && firstContentAt !== 0) {
          recorder.headers.push(headersAt - startedAt);
          recorder.firstByte.push(firstByteAt - startedAt);
          recorder.firstContent.push(firstContentAt - startedAt);
          recorder.total.push(performance.now() - startedAt);
          recorder.frames.push(scanner.frames);
          if (requestId !== undefined) recorder.samples.push([requestId, firstContentAt - startedAt]);
        }
        resolve();
      });
      res.on('error', (error) => {
        recorder.fail(error.message);
        resolve();
      });
    });
    req.on('error', (error) => {
      recorder.fail(error.message);
      resolve();
    });
    req.end(body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const options = readOptions();
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency, maxFreeSockets: options.concurrency });
  const body = chatBody(true);
  const recorder = new Recorder();
  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  const stopStartingAt = t0 + options.durationMs;

  const onContent = (): void => {
    recorder.contentReached++;
    if (options.once && recorder.contentReached === options.concurrency) {
      process.stdout.write(`${JSON.stringify({ type: 'open', atMs: performance.now() - t0 })}\n`);
    }
  };
  const worker = async (index: number): Promise<void> => {
    await sleep((options.rampMs * index) / options.concurrency);
    do {
      if (recorder.started >= options.maxStreams) return;
      const requestId = options.idPrefix === undefined ? undefined : `${options.idPrefix}-${recorder.started}`;
      recorder.started++;
      const measured = performance.now() - t0 >= options.warmupMs;
      await runStream(options, agent, body, recorder, measured, requestId, onContent);
    } while (!options.once && performance.now() < stopStartingAt);
  };

  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    deadlineTimer = setTimeout(() => {
      recorder.fail('deadline reached with streams still open');
      resolve();
    }, options.deadlineMs);
  });
  await Promise.race([Promise.all(Array.from({ length: options.concurrency }, (_, index) => worker(index))), deadline]);
  clearTimeout(deadlineTimer);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  agent.destroy();

  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const result: StreamLoadResult = {
    type: 'result',
    concurrency: options.concurrency,
    started: recorder.started,
    completed: recorder.completed,
    failed: recorder.failed,
    measured: recorder.firstContent.length,
    firstErrors: recorder.errors,
    wallSeconds,
    streamsPerSecond: recorder.completed / wallSeconds,
    headersMs: summarize(recorder.headers),
    firstByteMs: summarize(recorder.firstByte),
    firstContentMs: summarize(recorder.firstContent),
    gapMs: summarize(recorder.gaps),
    streamMs: summarize(recorder.total),
    framesPerStream: summarize(recorder.frames),
    cpuSeconds,
    cpuCores: cpuSeconds / wallSeconds,
    ...(options.idPrefix === undefined ? {} : { samples: recorder.samples }),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Sockets the deadline cut off may still hold the loop open.
  process.exit(0);
}

runBenchmark('stream-load', main);
