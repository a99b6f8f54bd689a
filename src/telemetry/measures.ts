import type { RequestObservation } from '../lifecycle/observation.js';
import { tokensOf, type TokenCount } from '../lifecycle/request-tokens.js';

/**
 * The definitions, written once. Every duration is on the gateway's monotonic clock:
 *
 *   TTFT           arrival at Tollbooth → the first content-bearing chunk written to the client
 *   upstream TTFT  dispatch to the replica → the first content-bearing chunk received from it
 *   TPOT           (last content written − first content written) / (completion_tokens − 1),
 *                  completion_tokens from usage (a chunk is not a token)
 *   inter-chunk    the gap between consecutive content-bearing events as they arrived
 *   end-to-end     arrival → the response is over (finished, failed or abandoned)
 *   overhead       arrival → dispatch, plus the time between receiving each chunk and writing it
 *
 * Only successful streams feed TTFT, TPOT and inter-chunk latency: a failed stream's timings
 * describe the failure, not the service.
 */
export type RequestOutcome =
  /** 2xx and, for streams, no in-band error. */
  | 'success'
  /** The gateway refused it before any replica saw it (bad body, unknown model, no replica). */
  | 'rejected'
  /** The replica answered with an error status or an in-band error event. */
  | 'upstream_error'
  /** The replica could not be reached, timed out, or broke the connection. */
  | 'upstream_failure'
  /** The client left before the response was complete. */
  | 'client_disconnected'
  /**
   * The gateway shut down while answering: at the drain deadline it ended the response itself
   * (503, an in-band error frame, or a closed body). A failure of the gateway's making: counted
   * as failed in the statistics, error type `drained`.
   */
  | 'drained';

export interface RequestMeasures {
  readonly outcome: RequestOutcome;
  readonly statusClass: '2xx' | '3xx' | '4xx' | '5xx' | 'none';
  /** What went wrong, for error counters: a catalogue code, `upstream_http_<status>`, `upstream_in_band`, `client_disconnected`, `drained`. */
  readonly errorType: string | null;
  readonly endToEndMs: number;
  readonly overheadMs: number | undefined;
  readonly ttftMs: number | undefined;
  readonly upstreamTtftMs: number | undefined;
  readonly tpotMs: number | undefined;
  readonly decodeTokensPerSecond: number | undefined;
  readonly chunkGapsMs: readonly number[];
  readonly tokens: TokenCount;
}

const NO_GAPS: readonly number[] = [];

/**
 * The request's measures from its finished observation. `tokens` are the ones the lifecycle
 * counted for every subscriber (request-lifecycle.ts), so metrics and settlement agree; counted
 * here when not given.
 */
export function measureRequest(observation: RequestObservation, tokens: TokenCount = tokensOf(observation)): RequestMeasures {
  const status = observation.status;
  const facts = observation.streamFacts;
  const outcome = outcomeOf(observation);
  const successfulStream = outcome === 'success' && facts !== undefined;

  const firstWritten = observation.firstContentWrittenAt;
  const lastWritten = observation.lastContentWrittenAt;
  const tpotMs =
    successfulStream && tokens.source === 'exact' && tokens.output >= 2 && firstWritten !== undefined && lastWritten !== undefined
      ? (lastWritten - firstWritten) / (tokens.output - 1)
      : undefined;

  return {
    outcome,
    statusClass: status === undefined ? 'none' : status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx',
    errorType: errorTypeOf(observation, outcome),
    endToEndMs: (observation.completedAt ?? observation.receivedAt) - observation.receivedAt,
    overheadMs: observation.dispatchedAt === undefined ? undefined : observation.dispatchedAt - observation.receivedAt + observation.relayDelayMs,
    ttftMs: successfulStream && firstWritten !== undefined ? firstWritten - observation.receivedAt : undefined,
    upstreamTtftMs:
      successfulStream && facts.firstContentAt !== undefined && observation.dispatchedAt !== undefined
        ? facts.firstContentAt - observation.dispatchedAt
        : undefined,
    tpotMs,
    decodeTokensPerSecond: tpotMs !== undefined && tpotMs > 0 ? 1000 / tpotMs : undefined,
    chunkGapsMs: successfulStream ? facts.chunkGapsMs : NO_GAPS,
    tokens,
  };
}

function outcomeOf(observation: RequestObservation): RequestOutcome {
  // Before client_disconnected: a plain body cut at the deadline closes the socket too.
  if (observation.drained) return 'drained';
  if (observation.clientDisconnected) return 'client_disconnected';
  const code = observation.errorCode;
  if (code !== undefined) return code.startsWith('upstream_') ? 'upstream_failure' : 'rejected';
  if (observation.status !== undefined && observation.status >= 400) return 'upstream_error';
  if (observation.streamFacts?.error !== undefined) return 'upstream_error';
  return 'success';
}

function errorTypeOf(observation: RequestObservation, outcome: RequestOutcome): string | null {
  switch (outcome) {
    case 'success':
      return null;
    case 'client_disconnected':
      return 'client_disconnected';
    case 'drained':
      return 'drained';
    case 'rejected':
    case 'upstream_failure':
      return observation.errorCode ?? null;
    case 'upstream_error':
      return observation.streamFacts?.error !== undefined && (observation.status ?? 200) < 400
        ? 'upstream_in_band'
        : `upstream_http_${observation.status ?? 0}`;
  }
}
