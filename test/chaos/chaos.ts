/**
 * `npm run chaos`: replays issue 18's attacks and misbehaving replicas against the built CLI
 * (`tollbooth start --config <generated file>`) on loopback, and prints one row per scenario:
 * crashes, connections still open after the timeouts, token under-count, drained streams without
 * an access-log line, and other failed expectations. Every column must be zero; the exit status
 * is 1 otherwise. `--quick` opens 100 slow connections per scenario instead of 2,000.
 * Bounded: every scenario has deadlines, and the whole run stops itself after 6 minutes.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { hashApiKey } from '../../src/auth/key-format.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { freePort } from '../helpers/free-ports.js';
import { BAD_MODELS, startBadReplica, type BadReplica } from './bad-replica.js';
import { GatewayProcess, sleep } from './gateway-process.js';
import { openSlowClients, type SlowKind } from './slow-clients.js';

const QUICK = process.argv.includes('--quick');
const SLOW_CONNECTIONS = QUICK ? 100 : 2_000;
const KEY = 'tb-chaos-0123456789abcdefghijklmnopqrstuvwxyz';
const TIMEOUTS = { headersTimeoutMs: 2_000, bodyIdleTimeoutMs: 2_000, requestTimeoutMs: 4_000 };
const DRAIN_TIMEOUT_MS = 1_500;
/** Allowance the bar gives beyond a configured timeout. */
const GRACE_MS = 5_000;
const RUN_DEADLINE_MS = 6 * 60_000;

interface Row {
  scenario: string;
  crashes: number;
  openConnections: number;
  underCount: number;
  drainedWithoutLog: number;
  failures: number;
  notes: string[];
}

function row(scenario: string): Row {
  return { scenario, crashes: 0, openConnections: 0, underCount: 0, drainedWithoutLog: 0, failures: 0, notes: [] };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP request over a fresh connection; resolves with whatever came back (status 0 on a transport error). */
function send(url: string, path: string, options: { method?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const target = new URL(path, url);
    const chunks: Buffer[] = [];
    const req = httpRequest(
      target,
      { method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), headers: { 'content-type': 'application/json', connection: 'close', ...options.headers }, agent: false },
      (res) => {
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error('timed out')));
    req.on('error', (error) => resolve({ status: 0, headers: {}, text: String(error.message) }));
    req.end(options.body);
  });
}

function isErrorEnvelope(text: string): boolean {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown } };
    return typeof body.error?.message === 'string' && typeof body.error.type === 'string';
  } catch {
    return false;
  }
}

function requestIdOf(answer: Answer): string | undefined {
  const id = answer.headers['x-request-id'];
  return typeof id === 'string' ? id : undefined;
}

/** A gateway that a scenario may kill: restarted for the next scenario when it died. */
class Subject {
  gateway!: GatewayProcess;
  constructor(private readonly config: () => Promise<Record<string, unknown>>) {}

  async ensure(): Promise<GatewayProcess> {
    if (this.gateway === undefined || this.gateway.exit !== undefined) this.gateway = await GatewayProcess.start(await this.config());
    return this.gateway;
  }

  async stop(): Promise<void> {
    if (this.gateway !== undefined) await this.gateway.stop();
  }
}

async function runScenario(rows: Row[], name: string, subject: Subject, body: (gateway: GatewayProcess, result: Row) => Promise<void>): Promise<void> {
  const result = row(name);
  rows.push(result);
  let gateway: GatewayProcess;
  try {
    gateway = await subject.ensure();
  } catch (error) {
    result.failures += 1;
    result.notes.push(`gateway did not start: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`);
    return;
  }
  result.notes.push(...gateway.notes);
  try {
    await body(gateway, result);
  } catch (error) {
    result.failures += 1;
    result.notes.push(`scenario error: ${(error as Error).message}`);
  }
  // An exception scheduled after the response (telemetry) kills the process a moment later.
  await sleep(500);
  if (gateway.crashed) {
    result.crashes += 1;
    result.notes.push(`gateway died (${gateway.exit?.code ?? gateway.exit?.signal}): ${gateway.stderr.split('\n').find((line) => /Error/.test(line)) ?? ''}`.trim());
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const deadline = setTimeout(() => {
    console.error(`chaos: stopped after ${RUN_DEADLINE_MS / 1000} s`);
    process.exit(1);
  }, RUN_DEADLINE_MS);
  deadline.unref();

  const simulator = await startSimulator({ seed: 7, models: ['test-model'], interTokenMs: 1, prefillBaseMs: 1, outputTokens: { min: 20, max: 40 } });
  const slowSimulator = await startSimulator({ seed: 8, models: ['slow-model'], interTokenMs: 50, prefillBaseMs: 1, outputTokens: { min: 400, max: 400 } });
  const bad = await startBadReplica();
  const badReplica = { name: 'bad', url: bad.url, models: Object.values(BAD_MODELS) };

  // The open gateway: auth off (as in the crash report), every replica, prices, a short drain.
  const open = new Subject(async () => ({
    server: { host: '127.0.0.1', port: 0, drainTimeoutMs: DRAIN_TIMEOUT_MS },
    admin: { enabled: true, host: '127.0.0.1', port: await freePort() },
    auth: { enabled: false },
    health: { probeIntervalMs: 200, modelRefreshIntervalMs: 500 },
    replicas: [
      { name: 'sim', url: simulator.url, models: ['test-model'] },
      { name: 'slow-sim', url: slowSimulator.url, models: ['slow-model'] },
      badReplica,
    ],
    cost: { tokenPrices: { 'test-model': { input: 1, output: 2 }, [BAD_MODELS.fractionalUsage]: { input: 1, output: 2 } } },
  }));
  // The guarded gateway: auth on with an inline key, short client timeouts, default metrics settings.
  const guarded = new Subject(async () => ({
    server: { host: '127.0.0.1', port: 0, ...TIMEOUTS },
    admin: { enabled: true, host: '127.0.0.1', port: await freePort() },
    auth: { keys: [{ id: 'chaos', hash: hashApiKey(KEY) }] },
    health: { probeIntervalMs: 200, modelRefreshIntervalMs: 500 },
    replicas: [badReplica],
  }));

  const rows: Row[] = [];
  try {
    await waitForModels(open, ['test-model', 'slow-model', BAD_MODELS.status999]);
    await waitForModels(guarded, [BAD_MODELS.status999], `Bearer ${KEY}`);

    await runScenario(rows, 'deep nesting /tokenize, auth off', open, (gateway, result) => deepNesting(gateway, result, '/tokenize', undefined));
    await runScenario(rows, 'deep nesting chat, with key', guarded, (gateway, result) => deepNesting(gateway, result, '/v1/chat/completions', `Bearer ${KEY}`));
    await runScenario(rows, 'fractional usage, tokenPrices set', open, fractionalUsage);
    for (const variant of STREAM_OPTION_VARIANTS) {
      await runScenario(rows, `stream_options ${variant.name}, CJK prompt`, open, (gateway, result) => streamOptions(gateway, result, simulator, variant));
    }
    await runScenario(rows, 'metrics on the API port, no credentials', guarded, metricsWithoutCredentials);
    await runScenario(rows, 'traversal and admin paths (raw)', guarded, (gateway, result) => traversal(gateway, result, bad));
    await runScenario(rows, 'replica status 999', open, status999);
    await runScenario(rows, 'replica 100 MB error body', open, (gateway, result) => hugeErrorBody(gateway, result, bad));
    await runScenario(rows, 'replica reset mid-stream', open, midStreamReset);
    const slow: Array<[string, SlowKind, string | undefined, number]> = [
      [`${SLOW_CONNECTIONS} slow bodies, no key`, 'slow-body', undefined, TIMEOUTS.requestTimeoutMs],
      [`${SLOW_CONNECTIONS} slow bodies, with key`, 'slow-body', `Bearer ${KEY}`, TIMEOUTS.requestTimeoutMs],
      [`${SLOW_CONNECTIONS} slow headers`, 'slow-headers', undefined, TIMEOUTS.headersTimeoutMs],
      [`${Math.ceil(SLOW_CONNECTIONS / 10)} endless chunked bodies, with key`, 'endless-chunked', `Bearer ${KEY}`, TIMEOUTS.requestTimeoutMs],
    ];
    for (const [name, kind, authorization, timeoutMs] of slow) {
      const count = kind === 'endless-chunked' ? Math.ceil(SLOW_CONNECTIONS / 10) : SLOW_CONNECTIONS;
      await runScenario(rows, name, guarded, (gateway, result) => slowClients(gateway, result, kind, count, authorization, timeoutMs));
    }
    await runScenario(rows, `stream past drainTimeoutMs, SIGTERM`, open, drain);
  } finally {
    await Promise.allSettled([open.stop(), guarded.stop()]);
    await Promise.allSettled([simulator.close(), slowSimulator.close(), bad.close()]);
  }
  return printTable(rows);
}

async function waitForModels(subject: Subject, models: string[], authorization?: string): Promise<void> {
  let gateway: GatewayProcess;
  try {
    gateway = await subject.ensure();
  } catch {
    return; // reported by the first scenario that needs it
  }
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const answer = await send(gateway.url, '/v1/models', { headers: authorization === undefined ? {} : { authorization } });
    if (answer.status === 200 && models.every((model) => answer.text.includes(`"${model}"`))) return;
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function deepNesting(gateway: GatewayProcess, result: Row, path: string, authorization: string | undefined): Promise<void> {
  const depth = 100_000;
  const nested = `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;
  const body =
    path === '/tokenize'
      ? `{"model":"${BAD_MODELS.acceptsAnything}","input":${nested}}`
      : `{"model":"${BAD_MODELS.acceptsAnything}","messages":[{"role":"user","content":${nested}}]}`;
  const answer = await send(gateway.url, path, { body, headers: authorization === undefined ? {} : { authorization } });
  result.notes.push(`answered ${answer.status}`);
  if (answer.status === 0 || answer.status >= 500) {
    result.failures += 1;
    result.notes.push(`expected an answer below 500: ${answer.text.slice(0, 120)}`);
  }
}

async function fractionalUsage(gateway: GatewayProcess, result: Row): Promise<void> {
  for (const stream of [false, true]) {
    const answer = await send(gateway.url, '/v1/chat/completions', { body: JSON.stringify({ model: BAD_MODELS.fractionalUsage, messages: [{ role: 'user', content: 'hi' }], stream }) });
    const requestId = requestIdOf(answer);
    const line = requestId === undefined ? undefined : await gateway.waitForAccessLine(requestId, 3_000);
    if (answer.status !== 200 || line === undefined) {
      result.failures += 1;
      result.notes.push(`${stream ? 'stream' : 'json'}: status ${answer.status}, access line ${line === undefined ? 'missing' : 'written'}`);
    } else {
      result.notes.push(`${stream ? 'stream' : 'json'}: tokens ${String(line.input_tokens)}/${String(line.output_tokens)} (${String(line.tokens_source)})`);
    }
  }
}

const CJK_PROMPT = '漢字仮名交じり文'.repeat(375); // 3,000 characters
/** stream_options variants; `clientGetsUsage`: vLLM itself would send this client the usage event. */
const STREAM_OPTION_VARIANTS: ReadonlyArray<{ name: string; body: string; clientGetsUsage: boolean }> = [
  { name: 'null', body: `{"model":"test-model","stream":true,"stream_options":null,"messages":[{"role":"user","content":"${CJK_PROMPT}"}]}`, clientGetsUsage: false },
  {
    name: 'duplicated',
    body: `{"stream_options":{"include_usage":true},"model":"test-model","stream":true,"messages":[{"role":"user","content":"${CJK_PROMPT}"}],"stream_options":null}`,
    clientGetsUsage: false,
  },
  {
    name: 'include_usage false',
    body: `{"model":"test-model","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"${CJK_PROMPT}"}]}`,
    clientGetsUsage: false,
  },
  // vLLM's include_usage defaults to true once stream_options is an object.
  { name: '{}', body: `{"model":"test-model","stream":true,"stream_options":{},"messages":[{"role":"user","content":"${CJK_PROMPT}"}]}`, clientGetsUsage: true },
];

async function streamOptions(gateway: GatewayProcess, result: Row, simulator: RunningSimulator, { body, clientGetsUsage }: (typeof STREAM_OPTION_VARIANTS)[number]): Promise<void> {
  simulator.truth.clear();
  const answer = await send(gateway.url, '/v1/chat/completions', { body });
  const requestId = requestIdOf(answer);
  const line = requestId === undefined ? undefined : await gateway.waitForAccessLine(requestId, 5_000);
  const [truth] = simulator.truth.all();
  if (answer.status !== 200 || line === undefined || truth === undefined) {
    result.failures += 1;
    result.notes.push(`status ${answer.status}, access line ${line === undefined ? 'missing' : 'written'}, truth ${truth === undefined ? 'missing' : 'found'}`);
    return;
  }
  const counted = Number(line.input_tokens) + Number(line.output_tokens);
  const real = truth.promptTokens + truth.completionTokens;
  result.underCount = Math.max(0, real - counted);
  result.notes.push(`counted ${counted} (${String(line.tokens_source)}) of ${real}`);
  // The client receives the usage event exactly when vLLM would have sent it for the client's own body.
  if (/"choices":\[\],"usage"/.test(answer.text) !== clientGetsUsage) {
    result.failures += 1;
    result.notes.push(clientGetsUsage ? 'the client lost the usage event vLLM would have sent it' : 'the client received a usage event it did not ask for');
  }
  if (!answer.text.endsWith('data: [DONE]\n\n')) {
    result.failures += 1;
    result.notes.push('the stream did not end with [DONE]');
  }
}

async function metricsWithoutCredentials(gateway: GatewayProcess, result: Row): Promise<void> {
  for (const path of ['/metrics', '/api/v1/metrics']) {
    const answer = await send(gateway.url, path);
    result.notes.push(`${path} ${answer.status}`);
    if (answer.status === 200) result.failures += 1;
  }
}

async function traversal(gateway: GatewayProcess, result: Row, bad: BadReplica): Promise<void> {
  const { port } = new URL(bad.url);
  const targets = [
    'GET /v1/../sim/truth',
    'GET /v1/%2e%2e/metrics',
    'GET /v1/%2E%2E/%2e%2e/sim/truth',
    'GET /v1/..%2fsim/truth',
    'GET /v1/.%2e/metrics',
    `GET http://127.0.0.1:${port}/sim/truth`,
    `GET http://127.0.0.1:${port}/v1/models`,
    'POST /v1/load_lora_adapter',
    'POST /v1/unload_lora_adapter',
    'POST /v1/../v1/load_lora_adapter',
  ];
  const before = bad.forwarded.length;
  const statuses: string[] = [];
  for (const target of targets) {
    const [method, path] = target.split(' ') as [string, string];
    const body = method === 'POST' ? '{"lora_name":"chaos","lora_path":"/tmp/chaos"}' : '';
    const raw = `${method} ${path} HTTP/1.1\r\nHost: chaos\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const answer = await rawRequest(gateway.url, raw);
    statuses.push(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'none');
  }
  await sleep(300);
  const leaked = bad.forwarded.slice(before);
  result.failures += leaked.length;
  result.notes.push(`statuses ${statuses.join(',')}`);
  if (leaked.length > 0) result.notes.push(`the replica saw ${leaked.join(' ')}`);
}

function rawRequest(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(raw);
  });
}

async function status999(gateway: GatewayProcess, result: Row): Promise<void> {
  const answer = await send(gateway.url, '/v1/chat/completions', { body: JSON.stringify({ model: BAD_MODELS.status999, messages: [{ role: 'user', content: 'hi' }] }) });
  result.notes.push(`client got ${answer.status}`);
  if (answer.status !== 502 || !isErrorEnvelope(answer.text)) result.failures += 1;
}

async function hugeErrorBody(gateway: GatewayProcess, result: Row, bad: BadReplica): Promise<void> {
  bad.hugeBody.written = 0;
  bad.hugeBody.complete = false;
  const startedAt = Date.now();
  const answer = await send(gateway.url, '/v1/chat/completions', { body: JSON.stringify({ model: BAD_MODELS.hugeErrorBody, messages: [{ role: 'user', content: 'hi' }] }), timeoutMs: 60_000 });
  const elapsed = Date.now() - startedAt;
  await sleep(1_000);
  result.notes.push(`client got ${answer.status} (${answer.text.length} bytes) in ${elapsed} ms; replica wrote ${(bad.hugeBody.written / 1024 / 1024).toFixed(1)} MB`);
  if (answer.status < 400 || !isErrorEnvelope(answer.text)) result.failures += 1;
  if (bad.hugeBody.complete) {
    result.failures += 1;
    result.notes.push('the gateway read the whole 100 MB');
  }
}

async function midStreamReset(gateway: GatewayProcess, result: Row): Promise<void> {
  const answer = await send(gateway.url, '/v1/chat/completions', { body: JSON.stringify({ model: BAD_MODELS.midStreamReset, stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
  const errorFrame = /data: (\{"error".*)\n/.exec(answer.text)?.[1];
  result.notes.push(`client got ${answer.status}, error frame ${errorFrame === undefined ? 'missing' : errorFrame.slice(0, 140)}`);
  if (errorFrame === undefined || /before it answered/.test(errorFrame)) result.failures += 1;
}

async function slowClients(gateway: GatewayProcess, result: Row, kind: SlowKind, count: number, authorization: string | undefined, timeoutMs: number): Promise<void> {
  const clients = await openSlowClients(gateway.url, kind, count, authorization);
  try {
    result.openConnections = await clients.openAfter(timeoutMs + GRACE_MS);
    result.notes.push(`${result.openConnections} of ${count} (${clients.connected()} connected) open ${(timeoutMs + GRACE_MS) / 1000} s after opening`);
  } finally {
    clients.close();
  }
  // The gateway must still serve once the slow clients are gone.
  const health = await send(gateway.url, '/health');
  if (health.status !== 200) {
    result.failures += 1;
    result.notes.push(`/health answered ${health.status} afterwards`);
  }
}

async function drain(gateway: GatewayProcess, result: Row): Promise<void> {
  const outcome = await new Promise<{ text: string; requestId: string | undefined; exit: Awaited<ReturnType<GatewayProcess['stop']>> | undefined }>((resolve) => {
    let stopping: ReturnType<GatewayProcess['stop']> | undefined;
    const chunks: Buffer[] = [];
    let requestId: string | undefined;
    const finish = async (): Promise<void> => resolve({ text: Buffer.concat(chunks).toString('utf8'), requestId, exit: await stopping });
    const req = httpRequest(new URL('/v1/chat/completions', gateway.url), { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      requestId = typeof res.headers['x-request-id'] === 'string' ? res.headers['x-request-id'] : undefined;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        stopping ??= gateway.stop(DRAIN_TIMEOUT_MS + 20_000);
      });
      res.on('close', () => void finish());
    });
    req.setTimeout(DRAIN_TIMEOUT_MS + 30_000, () => req.destroy());
    req.on('error', () => void finish());
    req.end(JSON.stringify({ model: 'slow-model', stream: true, max_tokens: 400, messages: [{ role: 'user', content: 'a long answer please' }] }));
  });
  const exit = outcome.exit ?? (await gateway.stop(DRAIN_TIMEOUT_MS + 20_000));
  const line = outcome.requestId === undefined ? undefined : gateway.accessLine(outcome.requestId);
  result.notes.push(`exit ${exit.code ?? exit.signal}${exit.killed ? ' (killed)' : ''}, access outcome ${String(line?.outcome ?? 'missing')}`);
  if (line === undefined || line.outcome !== 'drained') result.drainedWithoutLog += 1;
  if (exit.code !== 0) result.failures += 1;
  if (!/data: \{"error"/.test(outcome.text)) {
    result.failures += 1;
    result.notes.push('no error frame');
  }
  if (!outcome.text.endsWith('data: [DONE]\n\n')) {
    result.failures += 1;
    result.notes.push('no [DONE]');
  }
}

// ---------------------------------------------------------------------------------------------

function printTable(rows: readonly Row[]): number {
  const header = ['scenario', 'crashes', 'open conns', 'under-count', 'drained w/o log', 'other failures', 'notes'];
  const cells = rows.map((one) => [one.scenario, one.crashes, one.openConnections, one.underCount, one.drainedWithoutLog, one.failures, one.notes.join('; ')].map(String));
  const widths = header.map((title, column) => (column === header.length - 1 ? 0 : Math.max(title.length, ...cells.map((cell) => cell[column]!.length))));
  const format = (values: readonly string[]): string => values.map((value, column) => (column === 0 || column === values.length - 1 ? value.padEnd(widths[column]!) : value.padStart(widths[column]!))).join('  ');
  console.log(format(header));
  for (const cell of cells) console.log(format(cell));
  const bad = rows.filter((one) => one.crashes + one.openConnections + one.underCount + one.drainedWithoutLog + one.failures > 0);
  console.log(`\nchaos: ${rows.length} scenarios, ${bad.length} failed${QUICK ? ' (quick)' : ''}`);
  return bad.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('chaos: the script failed:', error);
    process.exit(1);
  },
);
