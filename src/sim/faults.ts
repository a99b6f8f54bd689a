import type { FaultOptions } from './options.js';
import type { Prng } from './prng.js';

/** What to break for one request. Several faults can combine (e.g. spike + disconnect). */
export interface FaultPlan {
  /** Answer with this HTTP status instead of generating. */
  errorStatus: number | null;
  /** Extra delay before the first token. */
  spikeMs: number;
  /** Destroy the socket after this many content chunks (0 = before the first). */
  disconnectAfterChunks: number | null;
  /** Accept the request and never send headers. */
  hang: boolean;
  /** Send headers and this many content chunks, then stall forever. */
  hangAfterChunks: number | null;
  /** After this many content chunks send an in-band error frame and [DONE]. */
  streamErrorAfterChunks: number | null;
  /** Canonical description for the ground truth, e.g. `spike:250,disconnect:3`; null if none. */
  label: string | null;
}

export const FAULT_HEADER = 'x-sim-fault';

function emptyPlan(): FaultPlan {
  return {
    errorStatus: null,
    spikeMs: 0,
    disconnectAfterChunks: null,
    hang: false,
    hangAfterChunks: null,
    streamErrorAfterChunks: null,
    label: null,
  };
}

function parseCount(name: string, raw: string | undefined, min: number, max: number): number {
  const value = raw === undefined ? Number.NaN : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${FAULT_HEADER}: ${name} needs an integer in [${min}, ${max}], got '${raw ?? ''}'`);
  }
  return value;
}

function appendLabel(plan: FaultPlan, part: string): void {
  plan.label = plan.label === null ? part : `${plan.label},${part}`;
}

/**
 * Parses `x-sim-fault`: a comma-separated list of `error:STATUS`, `spike:MS`, `disconnect:N`,
 * `hang`, `hang-body:N`, `stream-error:N`. Throws RangeError on anything else, so a typo in a
 * test fails loudly instead of silently testing nothing.
 */
export function parseFaultHeader(header: string | undefined, into: FaultPlan = emptyPlan()): FaultPlan {
  if (header === undefined || header.trim() === '') return into;
  for (const rawPart of header.split(',')) {
    const part = rawPart.trim();
    if (part === '') continue;
    const colon = part.indexOf(':');
    const name = colon < 0 ? part : part.slice(0, colon);
    const arg = colon < 0 ? undefined : part.slice(colon + 1);
    switch (name) {
      case 'error':
        into.errorStatus = parseCount(name, arg, 400, 599);
        break;
      case 'spike':
        into.spikeMs += parseCount(name, arg, 0, 3_600_000);
        break;
      case 'disconnect':
        into.disconnectAfterChunks = parseCount(name, arg, 0, 1_000_000);
        break;
      case 'hang':
        into.hang = true;
        break;
      case 'hang-body':
        into.hangAfterChunks = parseCount(name, arg, 0, 1_000_000);
        break;
      case 'stream-error':
        into.streamErrorAfterChunks = parseCount(name, arg, 0, 1_000_000);
        break;
      default:
        throw new RangeError(`${FAULT_HEADER}: unknown fault '${part}'`);
    }
    appendLabel(into, part);
  }
  return into;
}

/** Draws the configured random faults (all rates default to 0, so this costs 4 draws at most). */
export function drawRandomFaults(options: FaultOptions, prng: Prng, into: FaultPlan = emptyPlan()): FaultPlan {
  if (options.errorRate > 0 && prng.next() < options.errorRate) {
    into.errorStatus = options.errorStatus;
    appendLabel(into, `error:${options.errorStatus}`);
  }
  if (options.spikeRate > 0 && prng.next() < options.spikeRate) {
    into.spikeMs += options.spikeMs;
    appendLabel(into, `spike:${options.spikeMs}`);
  }
  if (options.disconnectRate > 0 && prng.next() < options.disconnectRate) {
    // "After a few chunks": mid-stream, so the client has already seen some output.
    const after = prng.int(1, 4);
    into.disconnectAfterChunks = after;
    appendLabel(into, `disconnect:${after}`);
  }
  if (options.hangRate > 0 && prng.next() < options.hangRate) {
    into.hang = true;
    appendLabel(into, 'hang');
  }
  return into;
}

/** Header faults first, then random ones on top. */
export function planFaults(header: string | undefined, options: FaultOptions, prng: Prng): FaultPlan {
  return drawRandomFaults(options, prng, parseFaultHeader(header));
}
