import type { Objective } from './config.js';
import type { SlaReport } from './report.js';
import type { ErrorBudget, Judged, ObjectiveResult, ScopeResult, WindowResult } from './sla.js';

/**
 * The report as titled tables of text, shared by the Markdown and HTML renderers so both show
 * the same figures the same way. The JSON keeps the unrounded numbers.
 */

export interface ReportTable {
  readonly heading: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  readonly notes?: readonly string[];
  /** The objective whose fleet-wide steps the HTML page charts under this table. */
  readonly chart?: { readonly objectiveIndex: number };
}

export function formatFigure(objective: Objective, figure: number | null): string {
  if (figure === null) return 'no data';
  if (objective.sli === 'availability' || objective.sli === 'error_rate') return `${Number((figure * 100).toFixed(4))} %`;
  return `${Number(figure.toFixed(4))} s`;
}

export function metText(met: boolean | null): string {
  return met === null ? 'no data' : met ? 'met' : 'MISSED';
}

function resultText(result: ObjectiveResult): string {
  return result.notJudged !== undefined ? 'not judged' : metText(result.met);
}

const count = (value: number | null) => (value === null ? '–' : String(Number(value.toFixed(2))));
const usedShare = (budget: ErrorBudget) => (budget.usedShare === null ? '–' : `${Number((budget.usedShare * 100).toFixed(2))} %`);
const span = (judged: Pick<Judged, 'start' | 'end'>) => `${judged.start.replace('.000Z', 'Z')} – ${judged.end.replace('.000Z', 'Z')}`;

/** A window's figure and span; a window cut by the report's range says so. */
function windowText(objective: Objective, window: WindowResult | null): string {
  return window === null ? '–' : `${formatFigure(objective, window.figure)} (${span(window)}${window.partial ? ', partial window' : ''})`;
}

function scopeName(result: ScopeResult): string {
  return result.scope.kind === 'all' ? 'all' : `${result.scope.kind} ${result.scope.name}`;
}

export function reportTables(report: SlaReport): ReportTable[] {
  const tables: ReportTable[] = [
    {
      heading: 'Objectives',
      columns: ['objective', 'result', 'over the range', 'worst window', 'error budget used', 'budget left (events)'],
      rows: report.objectives.map((result) => {
        const fleet = result.scopes.find((scope) => scope.scope.kind === 'all');
        return [
          result.title,
          resultText(result),
          result.notJudged !== undefined ? '–' : formatFigure(result.objective, fleet?.figure ?? null),
          windowText(result.objective, fleet?.worstWindow ?? null),
          fleet === undefined ? '–' : usedShare(fleet.budget),
          fleet === undefined ? '–' : count(fleet.budget.left),
        ];
      }),
    },
  ];
  report.objectives.forEach((result, objectiveIndex) => {
    const worst = result.scopes.find((scope) => scope.scope.kind === 'all')?.worstPeriods ?? [];
    tables.push({
      heading: result.title,
      columns: ['scope', 'result', 'over the range', 'worst window', 'events', 'bad events', 'budget allowed', 'budget used', 'budget left'],
      rows: result.scopes.map((scope) => [
        scopeName(scope),
        metText(scope.met),
        formatFigure(result.objective, scope.figure),
        windowText(result.objective, scope.worstWindow),
        count(scope.windows.reduce((sum, window) => sum + window.events, 0)),
        count(scope.budget.used),
        count(scope.budget.allowed),
        usedShare(scope.budget),
        count(scope.budget.left),
      ]),
      notes: [
        result.notJudged !== undefined
          ? `Not judged: ${result.notJudged}.`
          : worst.length === 0
            ? 'Worst periods (fleet): no evaluation step missed the objective.'
            : `Worst periods (fleet, runs of steps that missed): ${worst.map((period) => `${span(period)}: ${formatFigure(result.objective, period.figure)}, ${count(period.bad)} bad of ${count(period.events)}`).join('; ')}.`,
      ],
      chart: { objectiveIndex },
    });
  });
  const costColumns = ['cost', 'input tokens', 'cached input tokens', 'output tokens', 'cost per 1k tokens'];
  const costRows = (rows: SlaReport['cost']['byTenant']) =>
    rows.map((row) => [row.name, row.cost, String(row.inputTokens), String(row.cachedInputTokens), String(row.outputTokens), row.costPer1kTokens ?? '–']);
  tables.push(
    { heading: `Cost per tenant (${report.cost.currency})`, columns: ['tenant', ...costColumns], rows: costRows([...report.cost.byTenant, report.cost.total]) },
    { heading: `Cost per model (${report.cost.currency})`, columns: ['model', ...costColumns], rows: costRows([...report.cost.byModel, report.cost.total]) },
    {
      heading: `Prefix-cache ROI (${report.cost.currency})`,
      columns: ['model', 'cached input tokens', 'cached share of input', 'priced by', 'saved', 'cost without the cache', 'prefill seconds saved'],
      rows: report.prefixCacheRoi.byModel.map((row) => [
        row.model,
        String(row.cachedInputTokens),
        row.cachedShare === null ? '–' : `${Number((row.cachedShare * 100).toFixed(2))} %`,
        row.basis,
        row.saved ?? '–',
        row.costWithoutCache ?? '–',
        row.prefillSecondsSaved === null ? '–' : String(Number(row.prefillSecondsSaved.toFixed(3))),
      ]),
      notes: report.prefixCacheRoi.assumptions,
    },
  );
  return tables;
}
