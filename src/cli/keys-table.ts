import type { CounterUsageReport } from '../admin/usage-report.js';
import type { StoredKey } from '../auth/policy.js';

const COLUMNS = ['id', 'tenant', 'models', 'rpm', 'tpm', 'burst req/tok', 'concurrent', 'budget day/month', 'priority'] as const;

/** The `keys list` table: everything an operator needs to review limits, and never a hash or secret. */
export function formatKeyTable(keys: readonly StoredKey[]): string {
  if (keys.length === 0) return 'no keys\n';
  const rows = keys.map((key) => [
    key.id,
    key.tenant,
    key.models.join(','),
    show(key.limits.requestsPerMinute),
    show(key.limits.tokensPerMinute),
    `${show(key.limits.burstRequests)}/${show(key.limits.burstTokens)}`,
    show(key.limits.maxConcurrent),
    `${show(key.budget?.daily)}/${show(key.budget?.monthly)}`,
    key.priority ?? '-',
  ]);
  return table(COLUMNS, rows);
}

/** The `keys usage` table: one line per key (or tenant) of the period, numbers right-aligned. */
export function formatUsageTable(report: CounterUsageReport): string {
  const heading = `${report.period} ${report.date} (UTC), cost in ${report.currency}\n`;
  if (report.data.length === 0) return `${heading}no usage\n`;
  const columns = [...(report.group === 'key' ? ['key', 'tenant'] : ['tenant', 'keys']), 'requests', 'input', 'cached', 'output', 'cost'];
  const rows = report.data.map((row) => [
    ...('key_id' in row ? [row.key_id, row.tenant] : [row.tenant, String(row.keys)]),
    String(row.requests),
    String(row.input_tokens),
    String(row.cached_input_tokens),
    String(row.output_tokens),
    row.cost,
  ]);
  return heading + table(columns, rows, 2);
}

/** Columns padded to their widest cell; columns from `rightAlignedFrom` on are right-aligned. */
function table(columns: readonly string[], rows: readonly (readonly string[])[], rightAlignedFrom = columns.length): string {
  const widths = columns.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `${cells.map((cell, column) => (column >= rightAlignedFrom ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd()}\n`;
  return line(columns) + rows.map(line).join('');
}

function show(value: number | undefined): string {
  return value === undefined ? '-' : String(value);
}
