import type { IncomingHttpHeaders } from 'node:http';
import type { OpenAiErrorBody } from '../errors/catalogue.js';
import { normaliseUpstreamError } from './upstream-error-body.js';

/**
 * A replica's error answer, read up to a bound, then normalised to the OpenAI envelope. Nothing
 * past the bound is kept: `add` says when it is reached, and the reader stops there.
 */
export class ErrorBodyCollector {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private truncated = false;

  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    private readonly limitBytes: number,
  ) {}

  /** Keeps what fits; returns true once the body went past the limit (the rest is not worth reading). */
  add(chunk: Buffer): boolean {
    const room = this.limitBytes - this.bytes;
    if (room <= 0) {
      this.truncated = true;
      return true;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept !== chunk) this.truncated = true;
    this.chunks.push(kept);
    this.bytes += kept.length;
    return this.truncated;
  }

  body(): OpenAiErrorBody {
    const body = normaliseUpstreamError(this.status, Buffer.concat(this.chunks, this.bytes), this.truncated);
    this.chunks = [];
    return body;
  }
}
