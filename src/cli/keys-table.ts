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
  const widths = COLUMNS.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => `${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()}\n`;
  return line(COLUMNS) + rows.map(line).join('');
}

function show(value: number | undefined): string {
  return value === undefined ? '-' : String(value);
}
