import type { MetricsApiResponse } from '../../telemetry/stats/snapshot.js';
import { colorWanted, parseTopArgs, TOP_USAGE, TopUsageError, type TopOptions } from './options.js';
import { readSnapshot } from './read.js';
import { renderTop, type TopView } from './render.js';

/**
 * `tollbooth top`: reads GET /api/v1/metrics every interval and draws renderTop's lines. On a
 * terminal it takes the alternate screen, hides the cursor and reads keys raw (q, Ctrl-C), and gives
 * all three back however it ends. Elsewhere (a pipe, a file) it prints plain frames one after another.
 */

const ESC = '\u001b[';
const ENTER_SCREEN = `${ESC}?1049h${ESC}?25l`;
const LEAVE_SCREEN = `${ESC}0m${ESC}?25h${ESC}?1049l`;
const CTRL_C = '\u0003';
/** A read that takes longer than this is reported as unanswered; the next one starts at the next tick. */
const READ_TIMEOUT_MS = 5_000;

export async function runTopCommand(args: readonly string[]): Promise<number> {
  let options: TopOptions | 'help';
  try {
    options = parseTopArgs(args, process.env);
  } catch (error) {
    if (!(error instanceof TopUsageError)) throw error;
    process.stderr.write(`tollbooth top: ${error.message}\n\n${TOP_USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(TOP_USAGE);
    return 0;
  }
  if (options.once) return printOnce(options);
  return watch(options);
}

interface Reading {
  snapshot: MetricsApiResponse | undefined;
  readAtMs: number | undefined;
  problem: string | undefined;
}

function viewOf(options: TopOptions, reading: Reading, intervalMs = options.intervalMs): TopView {
  const now = new Date();
  return {
    url: options.displayUrl,
    clock: now.toLocaleTimeString('en-GB', { hour12: false }),
    nowMs: now.getTime(),
    snapshot: reading.snapshot,
    readAtMs: reading.readAtMs,
    problem: reading.problem,
    maxConcurrency: options.maxConcurrency,
    intervalMs,
  };
}

async function read(options: TopOptions, reading: Reading, stop?: AbortSignal): Promise<void> {
  const result = await readSnapshot(options.endpoint, options.authorization, Math.max(READ_TIMEOUT_MS, options.intervalMs), stop);
  if (result.snapshot !== undefined) {
    reading.snapshot = result.snapshot;
    reading.readAtMs = Date.now();
    reading.problem = undefined;
  } else {
    reading.problem = result.problem;
  }
}

async function printOnce(options: TopOptions): Promise<number> {
  const reading: Reading = { snapshot: undefined, readAtMs: undefined, problem: undefined };
  await read(options, reading);
  const color = colorWanted(process.stdout.isTTY === true, process.env);
  process.stdout.write(`${renderTop(viewOf(options, reading, 0), { width: process.stdout.columns ?? 80, color }).join('\n')}\n`);
  return reading.problem === undefined ? 0 : 1;
}

function watch(options: TopOptions): Promise<number> {
  const out = process.stdout;
  const input = process.stdin;
  const onTerminal = out.isTTY === true;
  const color = colorWanted(onTerminal, process.env);
  // Keys are read raw only when the screen is ours too: `tollbooth top | less` leaves the keyboard to less.
  const keys = onTerminal && input.isTTY === true;
  const reading: Reading = { snapshot: undefined, readAtMs: undefined, problem: undefined };
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const draw = (clear: boolean): void => {
    if (stopped) return;
    const width = out.columns ?? 80;
    const lines = renderTop(viewOf(options, reading), { width, height: onTerminal ? out.rows : undefined, color });
    if (!onTerminal) {
      out.write(`${lines.join('\n')}\n\n`);
      return;
    }
    // Each line is exactly `width` wide and placed by its row: nothing is written past the last column,
    // where a terminal's pending wrap would make a following erase remove the border.
    let frame = clear ? `${ESC}2J` : '';
    lines.forEach((line, row) => {
      frame += `${ESC}${row + 1};1H${line}`;
    });
    if (lines.length < (out.rows ?? lines.length)) frame += `${ESC}${lines.length + 1};1H${ESC}J`;
    out.write(frame);
  };

  return new Promise<number>((done) => {
    const onKey = (data: Buffer | string): void => {
      const typed = data.toString();
      if (typed.includes('q') || typed.includes('Q') || typed.includes(CTRL_C)) stop();
    };
    const onResize = (): void => draw(true);
    const onSignal = (): void => stop();
    const restore = (): void => {
      if (onTerminal) out.write(LEAVE_SCREEN);
    };

    function stop(): void {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      // An unfinished read would hold the process open for up to its timeout.
      stopping.abort();
      out.off('resize', onResize);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
      process.off('exit', restore);
      if (keys) {
        input.off('data', onKey);
        input.setRawMode(false);
        input.pause();
      }
      restore();
      done(0);
    }

    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
    // Should anything end the process without stop(), the terminal still gets its screen and cursor back.
    process.on('exit', restore);
    if (onTerminal) {
      out.write(ENTER_SCREEN);
      out.on('resize', onResize);
    }
    if (keys) {
      input.setRawMode(true);
      input.on('data', onKey);
      input.resume();
    }

    const tick = async (): Promise<void> => {
      const started = Date.now();
      await read(options, reading, stopping.signal);
      draw(false);
      if (!stopped) timer = setTimeout(() => void tick(), Math.max(0, options.intervalMs - (Date.now() - started)));
    };
    draw(true);
    void tick();
  });
}
