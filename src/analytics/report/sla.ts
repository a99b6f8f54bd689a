import type { LatencySli, Objective } from './config.js';
import { countAbove, histogramQuantile, observationCount, sumBuckets } from './histogram.js';
import { gridPoint, sumSteps, windowSpans, type StepGrid, type WindowSpan } from './series.js';

/**
 * The SLA part of the report: each objective judged per calendar window, per model and per
 * tenant, with its error budget and the periods that broke it. Pure: it reads per-step event
 * counts (series.ts) and never Prometheus.
 */

export type ScopeKind = 'all' | 'model' | 'tenant';
export interface Scope {
  readonly kind: ScopeKind;
  /** The model or tenant; "all" for the whole fleet. */
  readonly name: string;
}

/** Requests and 5xx per step of one scope. */
export interface RequestSteps {
  readonly total: readonly number[];
  readonly errors: readonly number[];
}

/** Bucket increments per step of one latency histogram in one scope, by upper bound. */
export type HistogramSteps = ReadonlyMap<number, readonly number[]>;

export interface SlaInput {
  readonly grid: StepGrid;
  readonly objectives: readonly Objective[];
  /** Keyed by scope (`scopeKey`): all, every model, every tenant. */
  readonly requests: ReadonlyMap<string, RequestSteps>;
  /** Per latency SLI, keyed by scope: all and every model (the histograms carry no tenant). */
  readonly histograms: Readonly<Record<LatencySli, ReadonlyMap<string, HistogramSteps>>>;
  /** How many of the worst periods each scope lists. */
  readonly worstPeriods: number;
}

/** Events of a window or period and the figure they give. */
export interface Judged {
  readonly start: string;
  readonly end: string;
  /** Requests (availability, error rate) or observations of the histogram (latency). */
  readonly events: number;
  /** Failed requests, or observations above the threshold (interpolated inside a bucket); null when the source cannot count them. */
  readonly bad: number | null;
  /** Availability or error rate 0–1, or the quantile in seconds; null without events. */
  readonly figure: number | null;
  /** null without events: no data is neither met nor missed. */
  readonly met: boolean | null;
}

export interface WindowResult extends Judged {
  readonly partial: boolean;
}

export interface ErrorBudget {
  /** Bad events the objective allows over the report's range. */
  readonly allowed: number;
  /** null when the source cannot count the bad events (a gateway's JSON has no TTFT distribution). */
  readonly used: number | null;
  readonly left: number | null;
  /** used / allowed; null when nothing was allowed (no events). */
  readonly usedShare: number | null;
}

export interface ScopeResult {
  readonly scope: Scope;
  /** Met when every window with events meets the objective; null when no window had events. */
  readonly met: boolean | null;
  /** The figure over the whole range. */
  readonly figure: number | null;
  /** The window with the worst figure. */
  readonly worstWindow: WindowResult | null;
  readonly windows: readonly WindowResult[];
  readonly budget: ErrorBudget;
  /** Runs of consecutive steps that each missed the objective, most bad events first. */
  readonly worstPeriods: readonly Judged[];
  /** The figure of every step (charts); only in the fleet-wide scope. */
  readonly steps?: ReadonlyArray<number | null>;
}

export interface ObjectiveResult {
  readonly objective: Objective;
  readonly title: string;
  readonly met: boolean | null;
  readonly scopes: readonly ScopeResult[];
  /** Why the objective was not judged (then met is null and there are no scopes): e.g. not enough history. */
  readonly notJudged?: string;
}

export const ALL_SCOPE: Scope = { kind: 'all', name: 'all' };

export function scopeKey(scope: Scope): string {
  return `${scope.kind}:${scope.name}`;
}

function scopeOfKey(key: string): Scope {
  const at = key.indexOf(':');
  return { kind: key.slice(0, at) as ScopeKind, name: key.slice(at + 1) };
}

function percentText(ratio: number): string {
  return `${Number((ratio * 100).toPrecision(6))} %`;
}

export function objectiveTitle(objective: Objective): string {
  switch (objective.sli) {
    case 'availability':
      return `availability ≥ ${percentText(objective.objective)} ${objective.window}`;
    case 'error_rate':
      return `error rate < ${percentText(objective.max)} ${objective.window}`;
    default:
      return `${objective.sli === 'ttft' ? 'TTFT' : 'response time'} p${Number((objective.quantile * 100).toPrecision(6))} ≤ ${objective.thresholdSeconds} s ${objective.window}`;
  }
}

/** How one objective reads a span of steps of one scope: its events, bad events and figure. */
export interface Evaluator {
  judge(firstStep: number, endStep: number): { events: number; bad: number | null; figure: number | null; met: boolean | null };
  /** Bad events the objective allows among `events`. */
  allowance(events: number): number;
  /** Orders figures worst first. */
  worse(a: number, b: number): boolean;
}

export function requestEvaluator(objective: Objective & { sli: 'availability' | 'error_rate' }, steps: RequestSteps): Evaluator {
  const allowedShare = objective.sli === 'availability' ? 1 - objective.objective : objective.max;
  return {
    judge: (first, end) => {
      const events = sumSteps(steps.total, first, end);
      const bad = sumSteps(steps.errors, first, end);
      if (events === 0) return { events, bad, figure: null, met: null };
      const errorRatio = bad / events;
      return objective.sli === 'availability'
        ? { events, bad, figure: 1 - errorRatio, met: 1 - errorRatio >= objective.objective }
        : { events, bad, figure: errorRatio, met: errorRatio < objective.max };
    },
    allowance: (events) => allowedShare * events,
    worse: (a, b) => (objective.sli === 'availability' ? a < b : a > b),
  };
}

function latencyEvaluator(objective: Objective & { sli: LatencySli }, steps: HistogramSteps): Evaluator {
  return {
    judge: (first, end) => {
      const buckets = sumBuckets(steps, first, end);
      const events = observationCount(buckets);
      const figure = histogramQuantile(objective.quantile, buckets) ?? null;
      const bad = events === 0 ? 0 : countAbove(objective.thresholdSeconds, buckets);
      return { events, bad, figure, met: figure === null ? null : figure <= objective.thresholdSeconds };
    },
    allowance: (events) => (1 - objective.quantile) * events,
    worse: (a, b) => a > b,
  };
}

const isoOf = (seconds: number) => new Date(seconds * 1000).toISOString();

export function judgeScope(scope: Scope, evaluator: Evaluator, grid: StepGrid, windows: readonly WindowSpan[], worstPeriods: number): ScopeResult {
  const windowResults: WindowResult[] = windows.map((span) => ({
    start: isoOf(span.startSeconds),
    end: isoOf(span.endSeconds),
    partial: span.partial,
    ...evaluator.judge(span.firstStep, span.endStep),
  }));
  const whole = evaluator.judge(0, grid.steps);
  const judgedWindows = windowResults.filter((window) => window.met !== null);
  const worstWindow = judgedWindows.reduce<WindowResult | null>((worst, window) => (worst === null || evaluator.worse(window.figure!, worst.figure!) ? window : worst), null);
  const allowed = evaluator.allowance(whole.events);

  const stepJudgements = Array.from({ length: grid.steps }, (_, step) => evaluator.judge(step, step + 1));
  const periods: Judged[] = [];
  for (let step = 0; step < grid.steps; step++) {
    if (stepJudgements[step]!.met !== false) continue;
    let end = step + 1;
    while (end < grid.steps && stepJudgements[end]!.met === false) end++;
    periods.push({ start: isoOf(gridPoint(grid, step)), end: isoOf(gridPoint(grid, end)), ...evaluator.judge(step, end) });
    step = end;
  }
  periods.sort((a, b) => (b.bad ?? 0) - (a.bad ?? 0) || a.start.localeCompare(b.start));

  return {
    scope,
    met: judgedWindows.length === 0 ? null : judgedWindows.every((window) => window.met === true),
    figure: whole.figure,
    worstWindow,
    windows: windowResults,
    budget: {
      allowed,
      used: whole.bad,
      left: whole.bad === null ? null : allowed - whole.bad,
      usedShare: whole.bad !== null && allowed > 0 ? whole.bad / allowed : null,
    },
    worstPeriods: periods.slice(0, worstPeriods),
    ...(scope.kind === 'all' ? { steps: stepJudgements.map((judged) => judged.figure) } : {}),
  };
}

const SCOPE_ORDER: Record<ScopeKind, number> = { all: 0, model: 1, tenant: 2 };

export function judgeObjectives(input: SlaInput): ObjectiveResult[] {
  return input.objectives.map((objective) => {
    const windows = windowSpans(input.grid, objective.window);
    const evaluators = new Map<string, Evaluator>();
    if (objective.sli === 'availability' || objective.sli === 'error_rate') {
      for (const [key, steps] of input.requests) evaluators.set(key, requestEvaluator(objective, steps));
    } else {
      for (const [key, steps] of input.histograms[objective.sli]) evaluators.set(key, latencyEvaluator(objective, steps));
    }
    const scopes = [...evaluators]
      .map(([key, evaluator]) => judgeScope(scopeOfKey(key), evaluator, input.grid, windows, input.worstPeriods))
      .sort((a, b) => SCOPE_ORDER[a.scope.kind] - SCOPE_ORDER[b.scope.kind] || a.scope.name.localeCompare(b.scope.name));
    const fleet = scopes.find((result) => result.scope.kind === 'all');
    return { objective, title: objectiveTitle(objective), met: fleet?.met ?? null, scopes };
  });
}
