/**
 * Incremental SSE event splitter over bytes (WHATWG "event stream" line rules).
 *
 * Lines end with CRLF, LF or CR; an event ends at an empty line. So `\n\n`, `\r\n\r\n`, `\r\r` and
 * any mix (`\r\n\n`, `\n\r\n`, …) end an event, and a chunk may be cut at any byte, including
 * between the CR and the LF of a CRLF. The splitter keeps three numbers of state between chunks and
 * no bytes: the caller decides what to hold. It jumps from line terminator to line terminator with
 * `Buffer.indexOf` (one cursor for LF, one for CR, so each chunk is scanned once per byte value) and
 * allocates nothing.
 *
 * Usage, per chunk:
 * ```ts
 * let start = splitter.begin(chunk);      // 1 when chunk[0] is the LF of a CRLF that ended the previous event
 * for (let end = splitter.next(); end !== -1; end = splitter.next()) {
 *   // the event that was in progress ends at chunk offset `end` (exclusive), terminators included
 *   start = end;
 * }
 * // chunk[start..] is the beginning of an event still in progress
 * ```
 */

const LF = 0x0a;
const CR = 0x0d;
/** Cursor value meaning "not searched yet in this chunk". */
const UNSEARCHED = -2;
const EMPTY = Buffer.alloc(0);

export class SseSplitter {
  /** Non-empty lines of the event `next()` last returned. */
  eventLines = 0;
  /** Non-empty lines of the event in progress. */
  private lines = 0;

  private chunk: Buffer = EMPTY;
  /** Where the scan resumes in the current chunk. */
  private scan = 0;
  /** Chunk offset where the current line began; -1 when it began (non-empty) in an earlier chunk. */
  private lineStart = 0;
  private nextLf = UNSEARCHED;
  private nextCr = UNSEARCHED;
  private finished = true;

  // State carried between chunks.
  /** The last byte seen ended a line (stream start counts as a line start). */
  private atLineStart = true;
  /** The last byte seen was a CR, so a following LF completes a CRLF rather than ending a line. */
  private crPending = false;
  /** That CR ended an event. */
  private crEndedEvent = false;

  /**
   * Starts scanning `chunk`. Returns 1 when its first byte is the LF of a CRLF whose CR ended the
   * previous event (the byte belongs to that event), else 0.
   */
  begin(chunk: Buffer): number {
    this.chunk = chunk;
    this.nextLf = UNSEARCHED;
    this.nextCr = UNSEARCHED;
    this.finished = false;
    let first = 0;
    if (chunk.length === 0) {
      this.lineStart = this.atLineStart ? 0 : -1;
    } else if (this.crPending && chunk[0] === LF) {
      this.lineStart = 1;
      if (this.crEndedEvent) first = 1;
    } else {
      this.lineStart = this.atLineStart ? 0 : -1;
    }
    this.scan = this.lineStart === 1 ? 1 : 0;
    if (chunk.length > 0) this.crPending = false;
    return first;
  }

  /**
   * The offset just past the blank line that ends the next event completing in the current chunk
   * (a CRLF's LF included when it is in this chunk), or -1 when no further event completes in it.
   */
  next(): number {
    if (this.finished) return -1;
    const chunk = this.chunk;
    const length = chunk.length;
    for (;;) {
      const at = this.nextTerminator();
      if (at === -1) return this.endOfChunk();
      const blank = at === this.lineStart;
      let after = at + 1;
      if (chunk[at] === CR) {
        if (after < length) {
          if (chunk[after] === LF) after++;
        } else {
          this.crPending = true;
          this.crEndedEvent = blank;
        }
      }
      this.lineStart = after;
      this.scan = after;
      if (blank) {
        this.eventLines = this.lines;
        this.lines = 0;
        return after;
      }
      this.lines++;
    }
  }

  /**
   * The caller consumed a whole chunk itself, made of complete events ending in LF, while no
   * event was in progress: the state is as if `begin` and `next` had scanned it.
   */
  skipWholeEvents(): void {
    this.atLineStart = true;
    this.crPending = false;
    this.lines = 0;
    this.eventLines = 1;
  }

  private nextTerminator(): number {
    const chunk = this.chunk;
    const from = this.scan;
    if (this.nextLf !== -1 && this.nextLf < from) this.nextLf = chunk.indexOf(LF, from);
    if (this.nextCr !== -1 && this.nextCr < from) this.nextCr = chunk.indexOf(CR, from);
    const lf = this.nextLf;
    const cr = this.nextCr;
    if (lf === -1) return cr;
    if (cr === -1) return lf;
    return lf < cr ? lf : cr;
  }

  private endOfChunk(): number {
    this.finished = true;
    const length = this.chunk.length;
    // crPending was set by next() when the chunk's last byte is a CR (always a line terminator).
    if (length > 0) this.atLineStart = this.lineStart === length;
    this.chunk = EMPTY;
    return -1;
  }
}
