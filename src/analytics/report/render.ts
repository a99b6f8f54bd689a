import type { SlaReport } from './report.js';
import { reportTables, type ReportTable } from './tables.js';

/** The report as Markdown, JSON, or one self-contained HTML page (inline CSS and SVG charts, nothing fetched). */

export const REPORT_FORMATS = ['md', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

function rangeLine(report: SlaReport): string {
  const range = `${report.from} – ${report.to} (UTC), evaluated every ${report.stepSeconds} s.`;
  return report.source === undefined ? range : `${range} Source: ${report.source}.`;
}

export function renderReport(report: SlaReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'md') return renderMarkdown(report);
  return renderHtml(report);
}

function markdownCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function renderMarkdown(report: SlaReport): string {
  const lines = ['# SLA and cost report', '', rangeLine(report)];
  for (const table of reportTables(report)) {
    lines.push('', `## ${table.heading}`, '', `| ${table.columns.join(' | ')} |`, `|${table.columns.map(() => '---').join('|')}|`);
    for (const row of table.rows) lines.push(`| ${row.map(markdownCell).join(' | ')} |`);
    for (const note of table.notes ?? []) lines.push('', note);
  }
  return `${lines.join('\n')}\n`;
}

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

const WIDTH = 720;
const HEIGHT = 180;
const PAD = { left: 64, right: 12, top: 10, bottom: 28 };

/** The fleet's figure per evaluation step as a line, the objective's limit dashed, steps that missed it in red. */
export function objectiveChart(report: SlaReport, objectiveIndex: number): string {
  const result = report.objectives[objectiveIndex]!;
  const steps = result.scopes.find((scope) => scope.scope.kind === 'all')?.steps ?? [];
  const objective = result.objective;
  const limit = objective.sli === 'availability' ? objective.objective : objective.sli === 'error_rate' ? objective.max : objective.thresholdSeconds;
  const values = steps.filter((value): value is number => value !== null);
  if (values.length === 0) return '<p>No data to chart.</p>';
  const percent = objective.sli === 'availability' || objective.sli === 'error_rate';
  let low = Math.min(limit, ...values);
  let high = Math.max(limit, ...values);
  if (high === low) [low, high] = [low - 1e-9, high + 1e-9];
  const x = (step: number) => PAD.left + ((WIDTH - PAD.left - PAD.right) * (step + 0.5)) / steps.length;
  const y = (value: number) => PAD.top + (HEIGHT - PAD.top - PAD.bottom) * (1 - (value - low) / (high - low));
  const missed = (value: number) => (objective.sli === 'availability' ? value < limit : objective.sli === 'error_rate' ? value >= limit : value > limit);
  const label = (value: number) => (percent ? `${Number((value * 100).toPrecision(5))} %` : `${Number(value.toPrecision(4))} s`);
  const segments: string[] = [];
  let current: string[] = [];
  steps.forEach((value, step) => {
    if (value === null) {
      if (current.length > 0) segments.push(current.join(' '));
      current = [];
    } else current.push(`${x(step).toFixed(1)},${y(value).toFixed(1)}`);
  });
  if (current.length > 0) segments.push(current.join(' '));
  const dots = steps
    .map((value, step) => (value !== null && missed(value) ? `<circle cx="${x(step).toFixed(1)}" cy="${y(value).toFixed(1)}" r="2" fill="#c62828"/>` : ''))
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(result.title)} per evaluation step">`,
    `<rect x="${PAD.left}" y="${PAD.top}" width="${WIDTH - PAD.left - PAD.right}" height="${HEIGHT - PAD.top - PAD.bottom}" fill="#fafafa" stroke="#ccc"/>`,
    `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(limit).toFixed(1)}" y2="${y(limit).toFixed(1)}" stroke="#c62828" stroke-dasharray="4 3"/>`,
    `<text x="${WIDTH - PAD.right - 2}" y="${(y(limit) < PAD.top + 14 ? y(limit) + 11 : y(limit) - 3).toFixed(1)}" text-anchor="end" font-size="10" fill="#c62828">objective ${escapeHtml(label(limit))}</text>`,
    ...segments.map((points) => `<polyline points="${points}" fill="none" stroke="#1565c0" stroke-width="1.2"/>`),
    dots,
    `<text x="${PAD.left - 4}" y="${PAD.top + 10}" text-anchor="end" font-size="10">${escapeHtml(label(high))}</text>`,
    `<text x="${PAD.left - 4}" y="${HEIGHT - PAD.bottom}" text-anchor="end" font-size="10">${escapeHtml(label(low))}</text>`,
    `<text x="${PAD.left}" y="${HEIGHT - 8}" font-size="10">${escapeHtml(report.from)}</text>`,
    `<text x="${WIDTH - PAD.right}" y="${HEIGHT - 8}" text-anchor="end" font-size="10">${escapeHtml(report.to)}</text>`,
    '</svg>',
  ].join('');
}

function htmlTable(table: ReportTable): string {
  const head = `<tr>${table.columns.map((column) => `<th>${escapeHtml(column)}</th>`).join('')}</tr>`;
  const body = table.rows
    .map((row) => `<tr>${row.map((cell) => `<td${cell === 'MISSED' ? ' class="missed"' : cell === 'met' ? ' class="met"' : ''}>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

function renderHtml(report: SlaReport): string {
  const sections = reportTables(report).map((table) =>
    [
      `<h2>${escapeHtml(table.heading)}</h2>`,
      table.chart === undefined ? '' : objectiveChart(report, table.chart.objectiveIndex),
      htmlTable(table),
      ...(table.notes ?? []).map((note) => `<p>${escapeHtml(note)}</p>`),
    ].join('\n'),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SLA and cost report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; }
td.missed { color: #c62828; font-weight: bold; }
td.met { color: #2e7d32; }
svg { display: block; margin: 0.5em 0; }
</style>
</head>
<body>
<h1>SLA and cost report</h1>
<p>${escapeHtml(rangeLine(report))}</p>
${sections.join('\n')}
</body>
</html>
`;
}
