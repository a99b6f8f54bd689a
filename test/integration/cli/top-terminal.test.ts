import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { formatRate, formatSeconds } from '../../../src/cli/top/format.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import type { MetricsApiResponse } from '../../../src/telemetry/stats/snapshot.js';
import { terminalPage } from '../../helpers/ansi-html.js';
import { launchChromium } from '../../helpers/chromium.js';
import { CLI_PATH, runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/free-ports.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';

/**
 * `tollbooth top` as a person uses it: the built CLI in a real terminal (tmux, 80×24, a private
 * socket), started before the gateway exists, then watching three simulated replicas under load.
 * The figures on screen are checked against GET /api/v1/metrics, q hands the shell back.
 * TOLLBOOTH_UPDATE_SCREENSHOTS=1 also renders the coloured pane to test/screenshots/top.png
 * with Debian's chromium (through playwright-core).
 */

const MODEL = 'llama-3.1-8b-instruct';
const COLUMNS = 80;
const ROWS = 24;
const SOCKET = `tollbooth-top-${process.pid}`;
const SCREENSHOT = resolve('test/screenshots/top.png');

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((done, fail) => {
    execFile(command, args, { env, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error !== null) fail(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}`));
      else done(stdout);
    });
  });
}

/** tmux on this test's own server (-L), with no user configuration (-f /dev/null). */
function tmux(...args: string[]): Promise<string> {
  return run('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args]);
}

async function requireTmux(): Promise<void> {
  try {
    await run('tmux', ['-V']);
  } catch (error) {
    throw new Error(`tmux is needed for this test and is missing: run "bash test/ensure-system-tools.sh" (${(error as Error).message})`);
  }
}

/** A shell in a detached 80×24 pane, its environment without NO_COLOR, so top decides colour by the terminal. */
async function startShell(): Promise<void> {
  const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...env } = process.env;
  await run('tmux', ['-L', SOCKET, '-f', '/dev/null', 'new-session', '-d', '-s', 'top', '-x', String(COLUMNS), '-y', String(ROWS), 'env', 'PS1=$ ', 'sh'], {
    ...env,
    TERM: 'xterm-256color',
  });
  cleanups.push(async () => {
    // kill-server leaves the socket file behind: remove it too.
    const socket = (await tmux('display-message', '-p', '#{socket_path}').catch(() => '')).trim();
    await tmux('kill-server');
    if (socket !== '') rmSync(socket, { force: true });
  });
}

function typeLine(line: string): Promise<string> {
  return tmux('send-keys', '-t', 'top', line, 'Enter');
}

const pane = (): Promise<string> => tmux('capture-pane', '-p', '-t', 'top');
const colouredPane = (): Promise<string> => tmux('capture-pane', '-e', '-p', '-t', 'top');
const paneState = async (): Promise<{ alternate: boolean; cursorVisible: boolean; command: string }> => {
  const [alternate, cursor, command] = (await tmux('display-message', '-p', '-t', 'top', '#{alternate_on} #{cursor_flag} #{pane_current_command}')).trim().split(' ');
  return { alternate: alternate === '1', cursorVisible: cursor === '1', command: command ?? '' };
};

/** Polls until `done` holds; a `done` that throws (a screen caught between two frames) counts as not yet. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    let why = '';
    try {
      if (done(value)) return value;
    } catch (error) {
      why = `${(error as Error).message}\n`;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms; ${why}last:\n${typeof value === 'string' ? value : JSON.stringify(value)}`);
    await new Promise((wake) => setTimeout(wake, 150));
  }
}

/** The figures top shows, read back from the screen. */
interface Screen {
  readonly status: string;
  readonly waiting: string;
  readonly running: number;
  readonly total: number;
  readonly ttft: { mean: string; p50: string; p95: string };
  readonly decodeMean: string;
  readonly gpu: string;
  readonly replicas: Map<string, { health: string; inFlight: number }>;
  readonly alerts: string[];
}

function readScreen(text: string): Screen {
  const line = (label: string): string => {
    const found = text.split('\n').find((candidate) => candidate.startsWith(`│ ${label}`));
    if (found === undefined) throw new Error(`no "${label}" row on the screen:\n${text}`);
    return found;
  };
  const count = (value: string | undefined): number => Number((value ?? 'NaN').replace(/,/g, ''));
  const requests = /waiting (\S+) +running (\S+) +total (\S+)/.exec(line('Requests'))!;
  const ttft = /mean (\S+) +p50 (\S+) +p95 (\S+)/.exec(line('TTFT'))!;
  const replicas = new Map<string, { health: string; inFlight: number }>();
  for (const match of text.matchAll(/^│ (sim-\d) +(\w+) +([\d,]+) /gm)) replicas.set(match[1]!, { health: match[2]!, inFlight: count(match[3]) });
  return {
    status: /● (\w+)/.exec(line('Status'))![1]!,
    waiting: requests[1]!,
    running: count(requests[2]),
    total: count(requests[3]),
    ttft: { mean: ttft[1]!, p50: ttft[2]!, p95: ttft[3]! },
    decodeMean: /decode mean (\S+)/.exec(line('Throughput'))![1]!,
    gpu: /\d+\.\d \/ \d+\.\d GB/.exec(line('GPU memory'))?.[0] ?? '',
    replicas,
    alerts: [...text.matchAll(/^│ ● (?:WARNING|CRITICAL) +(\w+)/gm)].map((match) => match[1]!),
  };
}

async function metrics(adminUrl: string): Promise<MetricsApiResponse> {
  return (await (await fetch(`${adminUrl}/api/v1/metrics`)).json()) as MetricsApiResponse;
}

/** Three replicas with GPU figures; one runs few sequences at a time, so its engine queue fills. */
async function startFleet(adminPort: number): Promise<{ gateway: TestGateway; simulators: RunningSimulator[] }> {
  const simulators = await Promise.all(
    [0, 1, 2].map((index) =>
      startSimulator({
        seed: index + 1,
        models: [MODEL],
        prefillBaseMs: 60,
        interTokenMs: 15,
        maxRunning: index === 2 ? 1 : 64,
        prefixCache: { enabled: true, blockTokens: 16, capacityBlocks: 256 },
        gpu: { name: 'NVIDIA L4', memoryMiB: 23_034, weightsMiB: 15_360, memoryUtilization: 0.9 },
      }),
    ),
  );
  cleanups.push(() => Promise.all(simulators.map((simulator) => simulator.close())));
  const gateway = await startTestGateway({
    replicas: simulators.map((simulator, index) => ({ name: `sim-${index}`, url: simulator.url, models: [MODEL], gpuMetricsUrl: `${simulator.url}/dcgm/metrics` })),
    admin: { host: '127.0.0.1', port: adminPort },
    health: { probeIntervalMs: 200, modelRefreshIntervalMs: 500, engineStatsIntervalMs: 300 },
    routing: { strategy: 'round-robin' },
    logging: { level: 'warn', accessLog: false },
    // A rule that fires while anything runs, so the screen shows a firing alert under load.
    alerts: { evaluationIntervalMs: 250, rules: [{ name: 'FleetBusy', figure: 'requests.running', comparison: '>', threshold: 0, forMs: 0, severity: 'warning', summary: 'Requests in flight' }] },
  });
  cleanups.push(() => gateway.close());
  return { gateway, simulators };
}

/** Streams from `workers` clients, one after another each, until stop() is called. */
function startLoad(baseURL: string, workers: number): { stop(): Promise<number> } {
  const client = new OpenAI({ apiKey: 'unused', baseURL: `${baseURL}/v1`, maxRetries: 0 });
  let running = true;
  let completed = 0;
  const worker = async (id: number): Promise<void> => {
    for (let turn = 0; running; turn += 1) {
      const content = `Worker ${id}, turn ${turn}: ${'tell me about toll roads and bridges. '.repeat(20)}`;
      const chunks = await client.chat.completions.create(
        { model: MODEL, stream: true, max_tokens: 80, messages: [{ role: 'user', content }] },
        { headers: { 'x-sim-tokens': String(40 + ((id * 7 + turn * 13) % 40)) } },
      );
      for await (const chunk of chunks) void chunk;
      completed += 1;
    }
  };
  const all = Promise.all(Array.from({ length: workers }, (_, id) => worker(id)));
  return {
    stop: async () => {
      running = false;
      await all;
      return completed;
    },
  };
}

async function saveScreenshot(coloured: string): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'tollbooth-top-chromium-'));
  const context = await launchChromium(profile, { viewport: { width: 1000, height: 700 }, deviceScaleFactor: 2 });
  try {
    const page = await context.newPage();
    await page.setContent(terminalPage(coloured, { columns: COLUMNS, title: 'tollbooth top' }));
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.locator('.window').screenshot({ path: SCREENSHOT });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

describe('tollbooth top in a real terminal', () => {
  it('waits for the gateway, shows the figures of /api/v1/metrics as they move, and gives the terminal back on q', { timeout: 180_000 }, async () => {
    await requireTmux();
    const adminPort = await freePort();
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    await startShell();
    await typeLine(`clear; ${process.execPath} ${CLI_PATH} top --url ${adminUrl}; echo "top exited $?"`);

    // No gateway yet: top says so and keeps trying.
    const unreachable = await until(pane, (text) => text.includes('● UNREACHABLE'), 'the unreachable status');
    expect(unreachable).toContain(`connect ECONNREFUSED 127.0.0.1:${adminPort}`);
    expect(unreachable).toContain('no answer yet; retrying every 1s');
    expect((await paneState()).alternate).toBe(true);

    const { gateway } = await startFleet(adminPort);
    const idle = readScreen(await until(pane, (text) => /^│ sim-2 +healthy/m.test(text) && text.includes('● OK'), 'the connected screen'));
    expect(idle).toMatchObject({ status: 'OK', waiting: '0', running: 0, total: 0, ttft: { mean: '–', p50: '–', p95: '–' } });
    expect(idle.gpu).toBe('45.0 / 67.5 GB'); // 3 × 15,360 MiB of weights in 3 × 23,034 MiB
    expect([...idle.replicas.keys()]).toEqual(['sim-0', 'sim-1', 'sim-2']);

    // Under load: the screen follows the JSON within a refresh, and moves.
    const load = startLoad(gateway.url, 8);
    const history: Array<{ at: number; json: MetricsApiResponse }> = [];
    const poller = setInterval(() => void metrics(adminUrl).then((json) => history.push({ at: Date.now(), json }), () => undefined), 150);
    cleanups.push(async () => clearInterval(poller));
    let coloured = '';
    try {
      const busy = await until(
        async () => ({ text: await pane(), coloured: await colouredPane() }),
        ({ text }) => {
          const screen = readScreen(text);
          return screen.running > 0 && screen.total >= 8 && screen.alerts.includes('FleetBusy') && screen.waiting !== '0';
        },
        'running requests, a queue, completed ones and the FleetBusy alert on the screen',
        40_000,
      );
      coloured = busy.coloured;
      const first = readScreen(busy.text);
      expect(first.status).toBe('WARNING');

      // Totals within one refresh: what the screen shows is what the JSON said less than ~2 s before.
      await until(
        async () => {
          const capturedAt = Date.now();
          const text = await pane();
          const recent = history.filter((entry) => entry.at >= capturedAt - 2_000 && entry.at <= capturedAt + 200).map((entry) => entry.json.requests.total);
          return { text, recent };
        },
        ({ text, recent }) => {
          const shown = readScreen(text).total;
          return recent.length > 0 && Math.min(...recent) <= shown && shown <= Math.max(...recent);
        },
        'the screen’s total among the JSON totals of the last refresh',
      );

      // It refreshes: the total grows while the load runs.
      await until(pane, (text) => readScreen(text).total > first.total, 'a larger total on a later refresh');
    } finally {
      clearInterval(poller);
    }
    const completed = await load.stop();

    // Load over: the screen settles on exactly what the JSON says.
    const settled = await until(
      async () => ({ screen: readScreen(await pane()), json: await metrics(adminUrl) }),
      ({ screen, json }) => json.requests.total === completed && json.requests.running === 0 && screen.total === completed && screen.running === 0 && !screen.alerts.includes('FleetBusy'),
      'the final figures on the screen',
    );
    const { screen, json } = settled;
    expect(screen.ttft).toEqual({ mean: formatSeconds(json.slo.ttft.mean), p50: formatSeconds(json.slo.ttft.p50), p95: formatSeconds(json.slo.ttft.p95) });
    expect(screen.decodeMean).toBe(formatRate(json.slo.throughput.decoding_mean));
    expect(screen.gpu).toBe(`${json.gpu.allocated_gb.toFixed(1)} / ${json.gpu.total_gb.toFixed(1)} GB`);
    expect(json.slo.ttft.count).toBe(completed);
    for (const [name, replica] of Object.entries(json.replicas)) {
      expect(screen.replicas.get(name), name).toEqual({ health: replica.health, inFlight: replica.in_flight });
    }

    if (process.env.TOLLBOOTH_UPDATE_SCREENSHOTS === '1') await saveScreenshot(coloured);

    // A wider terminal: the box follows the new width and the replica table gains columns; and back.
    // (tmux cuts or re-flows the old frame first: wait for a whole box of the new width.)
    const wholeBox = (text: string, width: number): boolean => {
      const lines = text.split('\n').filter((line) => line.trim() !== '');
      return lines.length > 10 && lines.every((line) => line.length === width && /^[┌│├└]/.test(line) && /[┐│┤┘]$/.test(line));
    };
    await tmux('resize-window', '-t', 'top', '-x', '120', '-y', '30');
    const wide = await until(pane, (text) => wholeBox(text, 120) && text.includes('prefix hit'), 'the box at 120 columns');
    expect(wide).toMatch(/^│ replica +health +in-flight +queue +running +KV cache +prefix hit +GPU memory +req\/s +TTFT p95 │$/m);
    await tmux('resize-window', '-t', 'top', '-x', String(COLUMNS), '-y', String(ROWS));
    const narrow = await until(pane, (text) => wholeBox(text, COLUMNS), 'the box at 80 columns again');
    expect(narrow).not.toContain('prefix hit');

    // The gateway goes away: top keeps the last figures, says how old they are, and keeps running.
    await gateway.close();
    const gone = await until(pane, (text) => text.includes('● UNREACHABLE') && text.includes('figures below are'), 'the unreachable status over the last figures');
    expect(readScreen(gone).total).toBe(completed);
    expect((await paneState()).command).toBe('node');

    // q: top exits 0, the alternate screen is left and the cursor is back.
    await tmux('send-keys', '-t', 'top', 'q');
    const after = await until(pane, (text) => text.includes('top exited'), 'the shell after q');
    expect(after).toContain('top exited 0');
    expect(after).not.toContain('┌─ Tollbooth');
    expect(await paneState()).toEqual({ alternate: false, cursorVisible: true, command: 'sh' });

    // Ctrl-C quits the same way.
    await typeLine(`clear; ${process.execPath} ${CLI_PATH} top --url ${adminUrl}; echo "top exited again $?"`);
    await until(pane, (text) => text.includes('● UNREACHABLE'), 'the second top');
    await tmux('send-keys', '-t', 'top', 'C-c');
    expect(await until(pane, (text) => text.includes('top exited again'), 'the shell after Ctrl-C')).toContain('top exited again 0');
    expect(await paneState()).toEqual({ alternate: false, cursorVisible: true, command: 'sh' });
  });

  it('reads metrics endpoints that want a token (--once, no colour outside a terminal)', async () => {
    const token = 'top-test-token-0123456789';
    const simulator = await startSimulator({ seed: 1, models: [MODEL] });
    cleanups.push(() => simulator.close());
    const gateway = await startTestGateway({ replicas: [{ name: 'sim-0', url: simulator.url, models: [MODEL] }], metrics: { bearerToken: token }, logging: { level: 'warn' } });
    cleanups.push(() => gateway.close());

    const refused = runCli(['top', '--once', '--url', gateway.adminUrl!], { TOLLBOOTH_METRICS_TOKEN: '' });
    expect(await refused.exited()).toEqual({ code: 1, signal: null });
    expect(refused.stdout()).toContain('● UNREACHABLE  401: the metrics endpoints want credentials');

    const allowed = runCli(['top', '--once', '--url', gateway.adminUrl!, '--token', token]);
    expect(await allowed.exited()).toEqual({ code: 0, signal: null });
    const lines = allowed.stdout().trimEnd().split('\n');
    expect(allowed.stdout()).not.toContain('\u001b');
    expect(lines[0]).toMatch(/^┌─ Tollbooth http:\/\/127\.0\.0\.1:\d+ ─+ \d\d:\d\d:\d\d ─┐$/);
    expect(lines.at(-1)).toMatch(/^└─+┘$/);
    expect(allowed.stdout()).toMatch(/^│ sim-0 +(healthy|unknown) /m);
  });
});
