import { spreadOf, type Spread } from './stats.js';

/**
 * Turns per-round measurements into the figures the run prints and saves: medians with their
 * min–max over rounds, and comparisons paired within each round (a ratio or a difference is
 * taken per round, then its median reported), because rounds drift more than targets within one.
 */

/** 'rate': more is better, compared as ratios. 'time'/'size': compared as differences. */
export type FigureKind = 'rate' | 'time' | 'size';

export interface Figure {
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  readonly kind: FigureKind;
  /** Target name → value per round (NaN where not measured). */
  readonly perTarget: Readonly<Record<string, readonly number[]>>;
}

export interface Comparison {
  readonly name: string;
  readonly through: string;
  readonly base: string;
  /** Compare as a ratio even for 'time'/'size' figures (e.g. RSS per stream, on ÷ off). */
  readonly asRatio?: boolean;
}

export const COMPARISONS: readonly Comparison[] = [
  { name: 'tollbooth vs nginx', through: 'tollbooth', base: 'nginx' },
  { name: 'tollbooth vs direct', through: 'tollbooth', base: 'direct' },
  { name: 'nginx vs direct', through: 'nginx', base: 'direct' },
];

export function compare(figure: Figure, comparison: Comparison): Spread {
  const through = figure.perTarget[comparison.through] ?? [];
  const base = figure.perTarget[comparison.base] ?? [];
  const paired = through.map((value, round) => {
    const reference = base[round] ?? Number.NaN;
    return figure.kind === 'rate' || comparison.asRatio === true ? value / reference : value - reference;
  });
  return spreadOf(paired);
}

export interface Bar {
  readonly name: string;
  readonly figureId: string;
  readonly comparison: Comparison | undefined;
  /** Reads the judged value from the figure's target spread or comparison spread. */
  readonly target: string | undefined;
  readonly limit: number;
  /** 'within': |value − 1| ≤ limit (a ratio that must stay close to 1). */
  readonly direction: BarDirection;
}

export type BarDirection = 'at-least' | 'at-most' | 'within';

export interface BarOutcome {
  readonly name: string;
  readonly value: Spread;
  readonly limit: number;
  readonly direction: BarDirection;
  readonly pass: boolean;
}

export function passes(value: number, limit: number, direction: BarDirection): boolean {
  if (direction === 'at-least') return value >= limit;
  if (direction === 'at-most') return value <= limit;
  return Math.abs(value - 1) <= limit;
}

export function judge(bars: readonly Bar[], figures: readonly Figure[]): BarOutcome[] {
  return bars.map((bar) => {
    const figure = figures.find((candidate) => candidate.id === bar.figureId);
    if (figure === undefined) throw new Error(`bar '${bar.name}' names unknown figure ${bar.figureId}`);
    const value = bar.comparison !== undefined ? compare(figure, bar.comparison) : spreadOf(figure.perTarget[bar.target ?? ''] ?? []);
    const pass = passes(value.median, bar.limit, bar.direction);
    return { name: bar.name, value, limit: bar.limit, direction: bar.direction, pass };
  });
}

function digits(value: number): string {
  if (Number.isNaN(value)) return '–';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return value.toFixed(0);
  if (magnitude >= 100) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export function formatSpread(spread: Spread, prefix = ''): string {
  if (Number.isNaN(spread.median)) return '–';
  const sign = (value: number): string => (prefix === '+' && value >= 0 ? '+' : '') + digits(value);
  const lead = prefix === '×' ? '×' : '';
  if (spread.min === spread.max) return `${lead}${sign(spread.median)}`;
  return `${lead}${sign(spread.median)} [${sign(spread.min)}…${sign(spread.max)}]`;
}

/** A markdown table: one row per figure, a column per target, then the paired comparisons. */
export function figureTable(figures: readonly Figure[], targets: readonly string[], comparisons: readonly Comparison[]): string {
  const header = ['figure', ...targets, ...comparisons.map((comparison) => comparison.name)];
  const rows = figures.map((figure) => [
    `${figure.label} (${figure.unit})`,
    ...targets.map((target) => formatSpread(spreadOf(figure.perTarget[target] ?? []))),
    ...comparisons.map((comparison) => formatSpread(compare(figure, comparison), figure.kind === 'rate' || comparison.asRatio === true ? '×' : '+')),
  ]);
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function barLines(outcomes: readonly BarOutcome[]): string {
  return outcomes
    .map((outcome) => {
      const bar =
        outcome.direction === 'within' ? `within ±${outcome.limit} of 1` : `${outcome.direction === 'at-least' ? '≥' : '≤'} ${outcome.limit}`;
      return `${outcome.pass ? 'PASS' : 'MISS'}  ${outcome.name}: ${formatSpread(outcome.value)} (bar ${bar})`;
    })
    .join('\n');
}

/** Collects per-round values by figure id; figures keep the order they were first defined in. */
export class FigureBook {
  private readonly figures = new Map<string, { label: string; unit: string; kind: FigureKind; perTarget: Record<string, number[]> }>();

  constructor(private readonly rounds: number) {}

  put(id: string, label: string, unit: string, kind: FigureKind, target: string, round: number, value: number): void {
    let figure = this.figures.get(id);
    if (figure === undefined) {
      figure = { label, unit, kind, perTarget: {} };
      this.figures.set(id, figure);
    }
    const values = (figure.perTarget[target] ??= new Array<number>(this.rounds).fill(Number.NaN));
    values[round] = value;
  }

  all(): Figure[] {
    return [...this.figures].map(([id, figure]) => ({ id, ...figure }));
  }
}

/**
 * The benchmarks' simulator: unpaced, zero prefill, no prefix cache; each request's x-sim-*
 * headers set its length and pacing, so the gateway's own cost is what a run measures.
 */
export const UNPACED_SIMULATOR_CONFIG = {
  host: '127.0.0.1',
  prefillBaseMs: 0,
  prefillPerTokenMs: 0,
  interTokenMs: 0,
  outputTokens: { min: 16, max: 16 },
  maxRunning: 4096,
  prefixCache: { enabled: false },
  truthCapacity: 1000,
};

/** A command-line option's value as a positive number, or an error naming the option. */
export function positiveNumber(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number, got '${text}'`);
  return value;
}

/** Runs a benchmark's main and exits: 0 when it finishes, 1 with the error on stderr when it throws. */
export function runBenchmark(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
