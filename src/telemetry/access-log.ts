import pino, { type Logger } from 'pino';
import { formatNanos } from '../cost/cost.js';
import type { RequestCost } from '../lifecycle/request-lifecycle.js';
import type { RequestMeasures } from './measures.js';
import type { RequestObservation } from '../lifecycle/observation.js';

/** The fields of the one JSON access-log line a request leaves (snake_case, like the rest of the log). */
export function accessLogRecord(
  observation: RequestObservation,
  measures: RequestMeasures,
  cost: RequestCost,
  currency: string,
): Record<string, unknown> {
  return {
    request_id: observation.requestId,
    method: observation.method,
    route: observation.route,
    key_id: observation.keyId ?? null,
    tenant: observation.tenant ?? null,
    model: observation.requestedModel ?? null,
    replica: observation.replica ?? null,
    routing: observation.routingOutcome ?? null,
    session_key: observation.sessionKeySource ?? null,
    failovers: observation.failovers,
    status: observation.status ?? null,
    stream: observation.stream,
    outcome: measures.outcome,
    duration_ms: roundMs(measures.endToEndMs),
    ttft_ms: optionalMs(measures.ttftMs),
    tpot_ms: optionalMs(measures.tpotMs),
    overhead_ms: optionalMs(measures.overheadMs),
    upstream_headers_ms:
      observation.upstreamHeadersAt === undefined || observation.dispatchedAt === undefined
        ? null
        : roundMs(observation.upstreamHeadersAt - observation.dispatchedAt),
    input_tokens: measures.tokens.input,
    cached_input_tokens: measures.tokens.cachedInput,
    output_tokens: measures.tokens.output,
    tokens_source: measures.tokens.source,
    cost: formatNanos(cost.nanos),
    cost_currency: currency,
    cost_basis: cost.basis,
    bytes: observation.responseBytes,
    client_disconnected: observation.clientDisconnected,
    error_code: measures.errorType,
    rate_limit: observation.rateLimit?.outcome ?? null,
    limited_by: observation.rateLimit?.limitedBy ?? null,
    guardrails: observation.guardrails === undefined ? null : observation.guardrails.map(({ rule, action }) => `${rule}:${action}`).join(','),
    priority: observation.overload?.priority ?? null,
    overload_level: observation.overload?.level ?? null,
    overload_action: observation.overload?.action ?? null,
    max_tokens_clamped_to: observation.overload?.clampedTo ?? null,
    overload_queued_ms: optionalMs(observation.overload?.queuedMs),
    trace_id: observation.traceId ?? null,
    span_id: observation.spanId ?? null,
  };
}

function optionalMs(value: number | undefined): number | null {
  return value === undefined ? null : roundMs(value);
}

function roundMs(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The access line's message. */
const ACCESS_MESSAGE = 'request';
/** pino's number for the info level. */
const INFO = 30;

/** An access-log record: flat, JSON-safe values (strings, finite numbers, booleans, null). */
export type AccessLogRecord = ReturnType<typeof accessLogRecord>;

/**
 * Writes access lines to `logger`'s destination byte for byte as `logger.info(record, 'request')`
 * would (its level, time, bindings, the record's fields in order, the message), with one
 * `JSON.stringify` of the record instead of pino's field-by-field serialisation (2–5 µs less CPU
 * per line, on the event loop of every request: test/bench/access-log-cost.ts). pino writes the line itself when the
 * logger has anything that would change it (a mixin, hooks, a log formatter, a nested key, a
 * message prefix, another message key). The record never holds request headers, so the logger's
 * redaction has nothing to do on it.
 */
export function accessLineWriter(logger: Logger): (record: AccessLogRecord) => void {
  const symbols = pino.symbols;
  // In pino 10's symbols, not in its type definitions.
  const msgPrefixSym = (symbols as unknown as Record<string, symbol | undefined>).msgPrefixSym;
  const internals = logger as unknown as Record<symbol, unknown>;
  const formatters = internals[symbols.formattersSym] as { log?: unknown } | undefined;
  const hooks = internals[symbols.hooksSym] as { streamWrite?: unknown } | undefined;
  const levelPrefix = (internals[symbols.lsCacheSym] as Record<number, string> | undefined)?.[INFO];
  const plain =
    internals[symbols.mixinSym] === undefined &&
    hooks?.streamWrite === undefined &&
    formatters?.log === undefined &&
    !internals[symbols.nestedKeySym] &&
    (msgPrefixSym === undefined || !internals[msgPrefixSym]) &&
    internals[symbols.messageKeySym] === 'msg' &&
    typeof levelPrefix === 'string';
  if (!plain) return (record) => logger.info(record, ACCESS_MESSAGE);
  const loggerTime = internals[symbols.timeSym] as () => string;
  const time = loggerTime === pino.stdTimeFunctions.isoTime ? isoTimeOncePerMillisecond() : loggerTime;
  const stream = internals[symbols.streamSym] as { write(line: string): unknown };
  const end = `,"msg":${JSON.stringify(ACCESS_MESSAGE)}${internals[symbols.endSym] as string}`;
  return (record) => {
    if (!logger.isLevelEnabled('info')) return;
    const fields = JSON.stringify(record);
    // The bindings are read per line: setBindings() may change them.
    stream.write(`${levelPrefix}${time()}${internals[symbols.chindingsSym] as string},${fields.slice(1, -1)}${end}`);
  };
}

/**
 * pino's `isoTime` (`,"time":"<ISO 8601>"`), the string made once per millisecond: a busy gateway
 * writes several lines in the same millisecond, and a Date and its ISO text per line were 1.3 % of
 * the gateway's CPU at c = 32 (`npm run bench:profile`).
 */
function isoTimeOncePerMillisecond(): () => string {
  let madeAt = Number.NaN;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== madeAt) {
      madeAt = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
}
