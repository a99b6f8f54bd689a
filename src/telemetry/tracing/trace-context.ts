import { randomFillSync } from 'node:crypto';

/**
 * W3C Trace Context without the OpenTelemetry SDK: random trace and span ids, and the
 * `traceparent` header read and written directly. Request tracing runs these once or twice per
 * request, so they avoid what the SDK's general path costs there (a propagator, a getter, a
 * context per extraction, a regular expression, `Math.random` per 4 bytes).
 */

/** A parent named by an incoming `traceparent`: ids as lowercase hex, the flags byte as sent. */
export interface RemoteParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
/** Random bytes are drawn this many at a time (one system call per ~170 requests). */
const POOL_BYTES = 4096;

/**
 * Random ids from a pool of cryptographically random bytes, refilled when used up. An all-zero
 * id (invalid in W3C Trace Context, probability 2^-64 or less) gets its last byte set to 1, as the
 * SDK's generator does.
 */
export class RandomIds {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private offset = POOL_BYTES;

  traceId(): string {
    return this.next(TRACE_ID_BYTES);
  }

  spanId(): string {
    return this.next(SPAN_ID_BYTES);
  }

  private next(bytes: number): string {
    if (this.offset + bytes > POOL_BYTES) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    const end = start + bytes;
    this.offset = end;
    const pool = this.pool;
    let zero = true;
    for (let i = start; i < end; i++) {
      if (pool[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) pool[end - 1] = 1;
    return pool.toString('hex', start, end);
  }
}

/**
 * The parent a `traceparent` header names, or undefined for an absent or invalid one (which then
 * starts a new trace). Accepts what the SDK's W3C propagator accepts: one optional leading and
 * trailing space or tab, version `00` with nothing after the flags, a later version (not `ff`) with
 * optional `-…` after them, lowercase hex ids that are not all zeros. Several headers: the first.
 */
export function parseTraceParent(header: string | string[] | undefined): RemoteParent | undefined {
  let value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || value.length < 55) return undefined;
  if (isSpace(value.charCodeAt(0))) value = value.slice(1);
  if (value.length > 55 && isSpace(value.charCodeAt(value.length - 1))) value = value.slice(0, -1);
  if (value.length < 55) return undefined;
  if (value.charCodeAt(2) !== 0x2d || value.charCodeAt(35) !== 0x2d || value.charCodeAt(52) !== 0x2d) return undefined;
  const version = value.slice(0, 2);
  if (!isLowerHex(version, 2) || version === 'ff') return undefined;
  if (value.length > 55) {
    if (version === '00' || value.charCodeAt(55) !== 0x2d) return undefined;
  }
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!isLowerHex(traceId, 32) || !isLowerHex(spanId, 16) || !isLowerHex(flags, 2)) return undefined;
  if (isZeros(traceId) || isZeros(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}

/** The `traceparent` that names `spanId` of `traceId` as the parent, sampled or not. */
export function formatTraceParent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

function isLowerHex(text: string, length: number): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (!((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66))) return false;
  }
  return true;
}

/** What `\s` matches among the characters an HTTP header value can hold. */
function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function isZeros(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== 0x30) return false;
  return true;
}
