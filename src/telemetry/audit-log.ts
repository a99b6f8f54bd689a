import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pinoRoll from 'pino-roll';
import { formatNanos } from '../cost/cost.js';
import type { RequestCost } from '../lifecycle/request-lifecycle.js';
import type { RequestMeasures } from './measures.js';
import type { RequestObservation } from '../lifecycle/observation.js';

export interface AuditSettings {
  /**
   * Where the lines go, numbered by pino-roll: `audit.log` is written as `audit.1.log`, then
   * `audit.2.log` once that one is full, …; `current.log` beside them links to the one in use.
   */
  readonly file: string;
  /** A file is rotated once it holds this many bytes. */
  readonly maxBytes: number;
  /** Rotated files kept besides the current one; older ones are deleted. */
  readonly keepFiles: number;
}

/** An admin API call that changed something, and who made it. */
export interface AdminActionRecord {
  readonly requestId: string;
  /** The id of the admin token used (never the token). */
  readonly admin: string | undefined;
  /** What was done, e.g. `key.create`. */
  readonly action: string;
  readonly keyId: string;
  readonly tenant: string;
}

/**
 * Who did what, apart from the access log: one JSON line per API request (the key's id and tenant,
 * model, route, status, tokens and cost) and per admin change (the admin token's id, the action,
 * the key it touched). Append-only and rotated by size. What it never holds: a key, a hash of one,
 * an admin token, a prompt or a completion (the observation it is written from carries none).
 */
export interface AuditLog {
  request(observation: RequestObservation, measures: RequestMeasures, cost: RequestCost, currency: string): void;
  adminAction(record: AdminActionRecord): void;
  /** Writes what is buffered and closes the file. */
  close(): Promise<void>;
}

/** The line of one request (pure, for the writer and its tests). */
export function auditRequestRecord(observation: RequestObservation, measures: RequestMeasures, cost: RequestCost, currency: string, timeMs: number): Record<string, unknown> {
  return {
    time: new Date(timeMs).toISOString(),
    type: 'request',
    request_id: observation.requestId,
    key_id: observation.keyId ?? null,
    tenant: observation.tenant ?? null,
    method: observation.method,
    route: observation.route,
    model: observation.requestedModel ?? null,
    status: observation.status ?? null,
    outcome: measures.outcome,
    input_tokens: measures.tokens.input,
    cached_input_tokens: measures.tokens.cachedInput,
    output_tokens: measures.tokens.output,
    cost: formatNanos(cost.nanos),
    cost_currency: currency,
  };
}

export function auditAdminRecord(record: AdminActionRecord, timeMs: number): Record<string, unknown> {
  return {
    time: new Date(timeMs).toISOString(),
    type: 'admin',
    request_id: record.requestId,
    admin: record.admin ?? null,
    action: record.action,
    key_id: record.keyId,
    tenant: record.tenant,
  };
}

/**
 * Opens the audit file through pino-roll (pino's own size-rotating destination: a sonic-boom
 * stream that writes asynchronously, so a line costs the request path a JSON.stringify and a
 * buffer append). A write error (a full disk) goes to `onError` once per failure and never
 * reaches the request.
 */
export async function openAuditLog(settings: AuditSettings, onError: (error: Error) => void): Promise<AuditLog> {
  mkdirSync(dirname(settings.file), { recursive: true });
  const destination = await pinoRoll({ file: settings.file, size: `${settings.maxBytes}b`, symlink: true, limit: { count: settings.keepFiles } });
  destination.on('error', onError);
  const write = (record: Record<string, unknown>): void => {
    destination.write(`${JSON.stringify(record)}\n`);
  };
  return {
    request: (observation, measures, cost, currency) => write(auditRequestRecord(observation, measures, cost, currency, Date.now())),
    adminAction: (record) => write(auditAdminRecord(record, Date.now())),
    close: () =>
      new Promise<void>((done) => {
        if (destination.destroyed) return done();
        destination.once('close', () => done());
        destination.end();
      }),
  };
}
