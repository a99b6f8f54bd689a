/**
 * The stream tap: observes an OpenAI/vLLM SSE stream chunk by chunk on the hot path, records
 * `StreamFacts`, and optionally cuts out the usage-only event the gateway asked for on the
 * client's behalf. See README.md in this folder for what it detects, the cost rules and the bounds.
 */

import { EventTemplates } from './event-templates.js';
import { createDataLocation, isDonePayload, locateData, parsePayload, payloadText } from './sse-event.js';
import type { ParsedPayload } from './sse-event.js';
import { SseSplitter } from './sse-splitter.js';
import { createStreamFacts } from './stream-facts.js';
import type { StreamFacts } from './stream-facts.js';

/** Default bound on one held partial event. */
export const DEFAULT_MAX_HELD_EVENT_BYTES = 1024 * 1024;
/** First capacity of the held-event buffer, allocated when an event first spans two chunks. */
const INITIAL_HOLD_BYTES = 4096;
const EMPTY = Buffer.alloc(0);

export interface StreamTapOptions {
  /** Remove the usage-only event (`"choices":[]` + usage) from what is forwarded: the gateway asked vLLM for it, the client did not. */
  stripUsageEvent: boolean;
  /**
   * Largest partial event the tap holds (default 1 MiB). An event that grows past it is
   * forwarded as it arrives and is not classified; holding and stripping resume with the next event.
   */
  maxHeldEventBytes?: number;
}

export class StreamTap {
  readonly facts: StreamFacts = createStreamFacts();

  private readonly strip: boolean;
  private readonly maxHeld: number;
  private readonly splitter = new SseSplitter();
  private readonly location = createDataLocation();
  /** Whole content events of this stream, once learned: the fast path (see event-templates.ts). */
  private readonly templates = new EventTemplates();
  /** The event in progress, from its first byte, when it began in an earlier chunk. */
  private held: Buffer = EMPTY;
  private heldLength = 0;
  /** The event in progress outgrew `maxHeld`: its bytes pass through, unheld and unclassified. */
  private oversized = false;
  /** The last completed event was cut out, so the LF completing its final CRLF goes too. */
  private lastStripped = false;
  /**
   * Byte ranges of the current chunk to forward (stripping only): the first in two fields, any
   * further ones as start/end pairs in `moreRanges` (only when an event is cut out mid-chunk).
   * Fields rather than one array: every chunk has a range, and pushing to and truncating an array
   * per chunk cost ~1.5 µs per stream.
   */
  private ranges = 0;
  private firstFrom = 0;
  private firstTo = 0;
  private readonly moreRanges: number[] = [];

  constructor(options: StreamTapOptions) {
    this.strip = options.stripUsageEvent;
    this.maxHeld = options.maxHeldEventBytes ?? DEFAULT_MAX_HELD_EVENT_BYTES;
  }

  /**
   * Observes one upstream chunk received at `now` (performance.now() ms) and returns the bytes to forward to the client.
   * Without stripUsageEvent: returns `chunk` itself, always (bytes forwarded untouched and immediately, even mid-frame).
   * With stripUsageEvent: returns the complete events of this chunk (a partial trailing event is held back until it completes,
   * so the usage event can be cut out exactly), minus the usage-only event; returns `chunk` itself when nothing is held back or
   * removed (zero copy), an empty buffer when nothing can be forwarded yet.
   */
  process(chunk: Buffer, now: number): Buffer {
    // The common chunk: whole content events of a learned template, nothing held before it.
    if (this.heldLength === 0 && !this.oversized && this.templates.count !== 0) {
      const events = this.templates.wholeEvents(chunk);
      if (events !== 0) {
        this.splitter.skipWholeEvents();
        this.lastStripped = false;
        for (let i = 0; i < events; i++) this.countContent(now);
        this.facts.contentCharacters += this.templates.textCharacters;
        return chunk;
      }
    }
    const splitter = this.splitter;
    const length = chunk.length;
    let start = splitter.begin(chunk);
    // Forwarded: `held[0, headLength)`, then the kept ranges of the chunk (`keepRange`).
    let headLength = 0;
    let keepFrom = start === 1 && this.lastStripped ? 1 : 0;
    this.ranges = 0;
    // Truncating an array costs even when it is empty; it is empty unless the last chunk cut an event out mid-chunk.
    if (this.moreRanges.length !== 0) this.moreRanges.length = 0;

    for (let end = splitter.next(); end !== -1; end = splitter.next()) {
      let stripped = false;
      if (this.oversized) {
        this.oversized = false;
      } else if (this.heldLength === 0) {
        stripped = this.onEvent(chunk, start, end, now);
        if (stripped) {
          if (keepFrom < start) this.keepRange(keepFrom, start);
          keepFrom = end;
        }
      } else if (this.heldLength + (end - start) > this.maxHeld) {
        // Completing it would outgrow the bound: forward it unclassified.
        headLength = this.heldLength;
        this.heldLength = 0;
      } else {
        this.hold(chunk, start, end);
        stripped = this.onEvent(this.held, 0, this.heldLength, now);
        headLength = stripped ? 0 : this.heldLength;
        keepFrom = end;
        this.heldLength = 0; // the bytes stay in `held` until the output is built
      }
      this.lastStripped = stripped;
      start = end;
    }

    // chunk[start, length) begins or continues an event that is not complete yet.
    let holdTail = false;
    if (start < length && !this.oversized) {
      if (this.heldLength + (length - start) > this.maxHeld) {
        // Too large to hold: forward what was held and the rest of it as it arrives, unclassified.
        this.oversized = true;
        headLength += this.heldLength;
        this.heldLength = 0;
      } else {
        holdTail = true;
      }
    }
    let out = chunk;
    if (this.strip) {
      const keepTo = this.oversized ? length : start;
      if (keepFrom < keepTo) this.keepRange(keepFrom, keepTo);
      out = this.output(chunk, headLength);
    }
    if (holdTail) this.hold(chunk, start, length);
    return out;
  }

  /** End of the upstream body: returns any held-back bytes that must still be forwarded (a truncated last event is forwarded as is). */
  finish(): Buffer {
    const held = this.held.subarray(0, this.heldLength);
    this.held = EMPTY;
    this.heldLength = 0;
    this.oversized = false;
    // A truncated event is not classified: an SSE client discards an event without its blank line.
    return this.strip && held.length > 0 ? held : EMPTY;
  }

  /**
   * Classifies one complete event and records its facts. Returns true when it is to be cut out.
   * The fast path recognises an event of a learned template as content; everything else is parsed
   * (the exact classifier), and a parsed content event without finish reason or usage becomes a
   * template for its successors.
   */
  private onEvent(buf: Buffer, start: number, end: number, now: number): boolean {
    const templates = this.templates;
    if (templates.count !== 0 && templates.matchEvent(buf, start, end)) {
      this.countContent(now);
      this.facts.contentCharacters += templates.textCharacters;
      return false;
    }
    const location = this.location;
    if (!locateData(buf, start, end, location, this.splitter.eventLines === 1)) return false;
    if (isDonePayload(buf, location)) {
      this.facts.done = true;
      return false;
    }
    const parsed = parsePayload(payloadText(buf, location));
    this.record(parsed, now);
    if (parsed.kind === 'content' && location.text === undefined && parsed.finishReasons === undefined && parsed.usage === undefined) {
      templates.learn(buf, start, end, location.start, location.end);
    }
    return this.strip && parsed.kind === 'usage-only';
  }

  private record(parsed: ParsedPayload, now: number): void {
    const facts = this.facts;
    if (facts.responseId === undefined) facts.responseId = parsed.id;
    if (facts.responseModel === undefined) facts.responseModel = parsed.model;
    if (parsed.kind === 'content') {
      this.countContent(now);
      facts.contentCharacters += parsed.contentCharacters;
    }
    if (parsed.finishReasons !== undefined) facts.finishReasons.push(...parsed.finishReasons);
    if (parsed.usage !== undefined) facts.usage = parsed.usage;
    if (parsed.error !== undefined && facts.error === undefined) facts.error = parsed.error;
  }

  private countContent(now: number): void {
    const facts = this.facts;
    if (facts.lastContentAt === undefined) facts.firstContentAt = now;
    else facts.chunkGapsMs.push(now - facts.lastContentAt);
    facts.lastContentAt = now;
    facts.contentEvents++;
  }

  /** Appends chunk[from, to) to the held event; callers keep the total within `maxHeld`. */
  private hold(chunk: Buffer, from: number, to: number): void {
    const needed = this.heldLength + (to - from);
    if (needed > this.held.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.maxHeld, Math.max(needed, this.held.length * 2, INITIAL_HOLD_BYTES)));
      this.held.copy(grown, 0, 0, this.heldLength);
      this.held = grown;
    }
    this.heldLength += chunk.copy(this.held, this.heldLength, from, to);
  }

  /** Adds chunk[from, to) to what this chunk forwards (ranges come in order and do not overlap). */
  private keepRange(from: number, to: number): void {
    if (this.ranges === 0) {
      this.firstFrom = from;
      this.firstTo = to;
    } else {
      this.moreRanges.push(from, to);
    }
    this.ranges++;
  }

  /** `held[0, headLength)` followed by the kept ranges of `chunk`, copying only when it must. */
  private output(chunk: Buffer, headLength: number): Buffer {
    const ranges = this.ranges;
    const firstFrom = this.firstFrom;
    const firstTo = this.firstTo;
    if (headLength === 0) {
      if (ranges === 0) return EMPTY;
      if (ranges === 1) return firstFrom === 0 && firstTo === chunk.length ? chunk : chunk.subarray(firstFrom, firstTo);
    }
    const more = this.moreRanges;
    let total = headLength;
    if (ranges !== 0) total += firstTo - firstFrom;
    for (let i = 0; i < more.length; i += 2) total += more[i + 1]! - more[i]!;
    const out = Buffer.allocUnsafe(total);
    let at = this.held.copy(out, 0, 0, headLength);
    if (ranges !== 0) at += chunk.copy(out, at, firstFrom, firstTo);
    for (let i = 0; i < more.length; i += 2) at += chunk.copy(out, at, more[i]!, more[i + 1]!);
    return out;
  }
}
