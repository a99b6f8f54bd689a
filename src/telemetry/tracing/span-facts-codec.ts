import { endianness } from 'node:os';
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { AttemptFacts, RequestSpanFacts } from './request-span-facts.js';

/**
 * Request span facts as two flat arrays that cross to the export thread by transfer: every number
 * (and every string's length) in a Float64Array, every string's UTF-16 code units in a Uint16Array.
 * Why not `postMessage` of the fact objects: the structured clone of one request's facts cost
 * about 2.4 µs on the event loop (measured), several times what these stores cost, and the event
 * loop is what limits a gateway's throughput.
 *
 * Absent values: an undefined number is written as NaN (facts hold finite numbers only), an
 * undefined string as the length -1. The reader reads fields in the order the writer wrote them;
 * `writeRequestSpanFacts` and `readRequestSpanFacts` are the one place that order is spelled out.
 *
 * Words: most strings of a request repeat from one request to the next (method, route, outcome,
 * model, replica…). Each such field has a slot; within a chunk, a value equal to the slot's last one
 * is written as the length -2 and no characters, and the reader hands back the string it decoded
 * for the slot the first time. The event loop copies fewer characters, and the export thread gets
 * one string per slot and chunk instead of a fresh slice per request, whose hash the encoder's pair
 * cache then computes once (otlp-protobuf-writer.ts). Slots start empty in every chunk, so a chunk
 * is read on its own: a lost chunk or a new export thread never leaves the two sides out of step.
 */

/**
 * Room for a chunk of RECORDS_PER_CHUNK (otlp-exporter.ts) requests of about 50 numbers and 160
 * code units each; the benchmark's requests carry longer ids, so their chunks fill (three quarters)
 * at 200–230 requests.
 */
const INITIAL_NUMBERS = 16_384;
const INITIAL_CHARS = 65_536;
const ABSENT_STRING = -1;
/** A word equal to the last one of its slot in this chunk. */
const SAME_WORD = -2;

/** The word fields of a request's facts (see the module comment), one slot each. */
const enum Word {
  Method,
  Route,
  Outcome,
  ErrorType,
  KeyId,
  Tenant,
  RoutingOutcome,
  SessionKeySource,
  RateLimitOutcome,
  RateLimitLimitedBy,
  RateLimitStore,
  RequestedModel,
  ResponseModel,
  FinishReason,
  AttemptErrorType,
  AttemptReplica,
  AttemptAddress,
}
/** Where the chunk's strings cannot be copied as UTF-16LE, they are decoded this many code units at a time (String.fromCharCode takes them as arguments). */
const DECODE_SLICE = 4096;

/**
 * Written facts, ready to transfer: `numbers` and `chars` own their buffers, of which the first
 * `numberCount` and `charCount` hold the facts. The receiver may hand the arrays back for reuse
 * (`FactsWriter.reuse`): a fresh pair per chunk would be memory outside the heap that the
 * collector only learns about afterwards.
 */
export interface FactsChunk {
  readonly numbers: Float64Array<ArrayBuffer>;
  readonly chars: Uint16Array<ArrayBuffer>;
  readonly numberCount: number;
  readonly charCount: number;
  /** Requests in the chunk. */
  readonly records: number;
  /** Spans those requests will make. */
  readonly spans: number;
}

/** Arrays handed back, kept for the next chunks. */
const MAX_SPARE_ARRAYS = 4;

export class FactsWriter {
  private numbers = new Float64Array(INITIAL_NUMBERS);
  private chars = new Uint16Array(INITIAL_CHARS);
  private numberCount = 0;
  private charCount = 0;
  private readonly spare: { numbers: Float64Array<ArrayBuffer>; chars: Uint16Array<ArrayBuffer> }[] = [];
  private recordCount = 0;
  private spanCount = 0;
  /** The last value written in each word slot of this chunk. */
  private readonly words: (string | undefined)[] = [];

  /** Requests written into the chunk so far, and the spans they will make. */
  get records(): number {
    return this.recordCount;
  }

  get spans(): number {
    return this.spanCount;
  }

  /** Three quarters of the chunk's numbers or chars are written: the next requests may not fit without growing it. */
  get nearlyFull(): boolean {
    return this.numberCount * 4 >= INITIAL_NUMBERS * 3 || this.charCount * 4 >= INITIAL_CHARS * 3;
  }

  num(value: number | undefined): void {
    if (this.numberCount === this.numbers.length) this.numbers = grown(this.numbers, this.numberCount + 1);
    this.numbers[this.numberCount++] = value ?? NaN;
  }

  bool(value: boolean): void {
    this.num(value ? 1 : 0);
  }

  str(value: string | undefined): void {
    if (value === undefined) {
      this.num(ABSENT_STRING);
      return;
    }
    const length = value.length;
    this.num(length);
    if (this.charCount + length > this.chars.length) this.chars = grown(this.chars, this.charCount + length);
    const chars = this.chars;
    let at = this.charCount;
    for (let i = 0; i < length; i++) chars[at++] = value.charCodeAt(i);
    this.charCount = at;
  }

  /** A string that usually repeats (see the module comment): written once per chunk while it stays the same. */
  word(slot: Word, value: string | undefined): void {
    if (value !== undefined && value === this.words[slot]) {
      this.num(SAME_WORD);
      return;
    }
    this.str(value);
    if (value !== undefined) this.words[slot] = value;
  }

  /** One request's facts are written: it counts, with the spans they will make. */
  endRecord(spans: number): void {
    this.recordCount += 1;
    this.spanCount += spans;
  }

  /** The chunk written so far, arrays and all; the writer goes on in spare arrays or new ones. */
  take(): FactsChunk {
    const chunk: FactsChunk = {
      numbers: this.numbers,
      chars: this.chars,
      numberCount: this.numberCount,
      charCount: this.charCount,
      records: this.recordCount,
      spans: this.spanCount,
    };
    const next = this.spare.pop();
    this.numbers = next?.numbers ?? new Float64Array(INITIAL_NUMBERS);
    this.chars = next?.chars ?? new Uint16Array(INITIAL_CHARS);
    this.numberCount = 0;
    this.charCount = 0;
    this.recordCount = 0;
    this.spanCount = 0;
    this.words.length = 0;
    return chunk;
  }

  /** Arrays of a chunk that was read, to write later chunks into (grown ones are left to the collector). */
  reuse(numbers: Float64Array<ArrayBuffer>, chars: Uint16Array<ArrayBuffer>): void {
    if (numbers.length === INITIAL_NUMBERS && chars.length === INITIAL_CHARS && this.spare.length < MAX_SPARE_ARRAYS) this.spare.push({ numbers, chars });
  }
}

export class FactsReader {
  private numberAt = 0;
  private charAt = 0;
  /** Every string of the chunk, decoded in one call: each string is a slice of it. */
  private readonly text: string;
  /** The string each word slot last decoded to. */
  private readonly words: (string | undefined)[] = [];

  constructor(private readonly chunk: Pick<FactsChunk, 'numbers' | 'chars' | 'numberCount' | 'charCount'>) {
    this.text = decodeUtf16(chunk.chars, chunk.charCount);
  }

  get done(): boolean {
    return this.numberAt >= this.chunk.numberCount;
  }

  num(): number | undefined {
    if (this.numberAt >= this.chunk.numberCount) throw new RangeError('span facts ended early');
    const value = this.chunk.numbers[this.numberAt++]!;
    return Number.isNaN(value) ? undefined : value;
  }

  /** A number the writer always writes (never absent). */
  count(): number {
    return this.num() ?? 0;
  }

  bool(): boolean {
    return this.num() === 1;
  }

  str(): string | undefined {
    return this.stringOf(this.count());
  }

  word(slot: Word): string | undefined {
    const length = this.count();
    if (length !== SAME_WORD) {
      const value = this.stringOf(length);
      if (value !== undefined) this.words[slot] = value;
      return value;
    }
    const repeated = this.words[slot];
    if (repeated === undefined) throw new RangeError('span facts are malformed: a repeated word was never written');
    return repeated;
  }

  private stringOf(length: number): string | undefined {
    if (length === ABSENT_STRING) return undefined;
    if (length < 0) throw new RangeError('span facts are malformed: a string of negative length');
    const start = this.charAt;
    const end = start + length;
    if (end > this.chunk.charCount) throw new RangeError('span facts ended early');
    this.charAt = end;
    return this.text.slice(start, end);
  }
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * The first `count` code units as one string, exactly (a lone surrogate stays one): on a
 * little-endian machine the array's bytes are UTF-16LE, which Buffer copies into a string in one
 * call; elsewhere by String.fromCharCode over slices of the array.
 */
function decodeUtf16(chars: Uint16Array, count: number): string {
  if (LITTLE_ENDIAN) return Buffer.from(chars.buffer, chars.byteOffset, count * 2).toString('utf16le');
  let text = '';
  for (let at = 0; at < count; at += DECODE_SLICE) {
    text += String.fromCharCode.apply(null, chars.subarray(at, Math.min(count, at + DECODE_SLICE)) as unknown as number[]);
  }
  return text;
}

function grown<T extends Float64Array<ArrayBuffer> | Uint16Array<ArrayBuffer>>(array: T, needed: number): T {
  let size = array.length * 2;
  while (size < needed) size *= 2;
  const bigger = new (array.constructor as new (length: number) => T)(size);
  bigger.set(array);
  return bigger;
}

/** How many spans a request's facts make: the SERVER span, the rate-limit span, one per attempt. */
export function spanCountOf(facts: RequestSpanFacts): number {
  return 1 + (facts.rateLimit === undefined ? 0 : 1) + facts.attempts.length;
}

export function writeRequestSpanFacts(out: FactsWriter, facts: RequestSpanFacts): void {
  out.str(facts.traceId);
  out.str(facts.spanId);
  out.bool(facts.sampled);
  out.str(facts.traceState);
  const parent = facts.parent;
  out.bool(parent !== undefined);
  if (parent !== undefined) {
    out.str(parent.spanId);
    out.num(parent.traceFlags);
    out.bool(parent.isRemote);
  }
  writeAttributes(out, facts.samplerAttributes);
  out.num(facts.epochOffsetMs);

  out.word(Word.Method, facts.method);
  out.word(Word.Route, facts.route);
  out.str(facts.requestId);
  out.num(facts.receivedAt);
  out.num(facts.endedAt);
  out.num(facts.status);
  out.word(Word.Outcome, facts.outcome);
  out.word(Word.ErrorType, facts.errorType);
  out.word(Word.KeyId, facts.keyId);
  out.word(Word.Tenant, facts.tenant);
  out.word(Word.RoutingOutcome, facts.routingOutcome);
  out.num(facts.failovers);
  out.word(Word.SessionKeySource, facts.sessionKeySource);
  out.num(facts.overheadMs);
  const rateLimit = facts.rateLimit;
  out.bool(rateLimit !== undefined);
  if (rateLimit !== undefined) {
    out.word(Word.RateLimitOutcome, rateLimit.outcome);
    out.word(Word.RateLimitLimitedBy, rateLimit.limitedBy);
    out.word(Word.RateLimitStore, rateLimit.store);
    out.num(rateLimit.reservedTokens);
    out.num(rateLimit.startedAt);
    out.num(rateLimit.endedAt);
  }

  out.word(Word.RequestedModel, facts.requestedModel);
  out.bool(facts.stream);
  out.num(facts.maxTokens);
  out.num(facts.temperature);
  out.str(facts.conversationId);
  out.str(facts.inputMessages);
  out.str(facts.outputMessages);

  out.str(facts.responseId);
  out.word(Word.ResponseModel, facts.responseModel);
  out.num(facts.finishReasons.length);
  for (const reason of facts.finishReasons) out.word(Word.FinishReason, reason);
  const usage = facts.usage;
  out.bool(usage !== undefined);
  if (usage !== undefined) {
    out.num(usage.input);
    out.num(usage.output);
    out.num(usage.cachedInput);
  }
  const firstToken = facts.firstToken;
  out.bool(firstToken !== undefined);
  if (firstToken !== undefined) {
    out.num(firstToken.at);
    out.num(firstToken.ttftMs);
    out.num(firstToken.upstreamTtftMs);
  }

  out.num(facts.attempts.length);
  for (const attempt of facts.attempts) {
    out.str(attempt.spanId);
    out.num(attempt.startedAt);
    out.num(attempt.endedAt);
    out.word(Word.AttemptErrorType, attempt.errorType);
    out.word(Word.AttemptReplica, attempt.replica);
    out.word(Word.AttemptAddress, attempt.address);
    out.num(attempt.port);
  }
  out.endRecord(spanCountOf(facts));
}

export function readRequestSpanFacts(from: FactsReader): RequestSpanFacts {
  const traceId = required(from.str());
  const spanId = required(from.str());
  const sampled = from.bool();
  const traceState = from.str();
  const parent = from.bool() ? { spanId: required(from.str()), traceFlags: from.count(), isRemote: from.bool() } : undefined;
  const samplerAttributes = readAttributes(from);
  const epochOffsetMs = from.count();

  const method = required(from.word(Word.Method));
  const route = required(from.word(Word.Route));
  const requestId = required(from.str());
  const receivedAt = from.count();
  const endedAt = from.count();
  const status = from.num();
  const outcome = required(from.word(Word.Outcome));
  const errorType = from.word(Word.ErrorType);
  const keyId = from.word(Word.KeyId);
  const tenant = from.word(Word.Tenant);
  const routingOutcome = from.word(Word.RoutingOutcome);
  const failovers = from.num();
  const sessionKeySource = from.word(Word.SessionKeySource);
  const overheadMs = from.num();
  const rateLimit = from.bool()
    ? {
        outcome: required(from.word(Word.RateLimitOutcome)),
        limitedBy: from.word(Word.RateLimitLimitedBy),
        store: required(from.word(Word.RateLimitStore)),
        reservedTokens: from.count(),
        startedAt: from.count(),
        endedAt: from.count(),
      }
    : undefined;

  const requestedModel = from.word(Word.RequestedModel);
  const stream = from.bool();
  const maxTokens = from.num();
  const temperature = from.num();
  const conversationId = from.str();
  const inputMessages = from.str();
  const outputMessages = from.str();

  const responseId = from.str();
  const responseModel = from.word(Word.ResponseModel);
  const finishReasons: string[] = [];
  for (let i = from.count(); i > 0; i--) finishReasons.push(required(from.word(Word.FinishReason)));
  const usage = from.bool() ? { input: from.count(), output: from.count(), cachedInput: from.count() } : undefined;
  const firstToken = from.bool() ? { at: from.count(), ttftMs: from.count(), upstreamTtftMs: from.num() } : undefined;

  const attempts: AttemptFacts[] = [];
  for (let i = from.count(); i > 0; i--) {
    attempts.push({
      spanId: required(from.str()),
      startedAt: from.count(),
      endedAt: from.num(),
      errorType: from.word(Word.AttemptErrorType),
      replica: required(from.word(Word.AttemptReplica)),
      address: required(from.word(Word.AttemptAddress)),
      port: from.count(),
    });
  }
  return {
    traceId,
    spanId,
    sampled,
    traceState,
    parent,
    samplerAttributes,
    epochOffsetMs,
    method,
    route,
    requestId,
    receivedAt,
    endedAt,
    status,
    outcome,
    errorType,
    keyId,
    tenant,
    routingOutcome,
    failovers,
    sessionKeySource,
    overheadMs,
    rateLimit,
    requestedModel,
    stream,
    maxTokens,
    temperature,
    conversationId,
    inputMessages,
    outputMessages,
    responseId,
    responseModel,
    finishReasons,
    usage,
    firstToken,
    attempts,
  };
}

/** Every request's facts in a chunk, in the order they were written. */
export function readChunk(chunk: Pick<FactsChunk, 'numbers' | 'chars' | 'numberCount' | 'charCount'>): RequestSpanFacts[] {
  const reader = new FactsReader(chunk);
  const facts: RequestSpanFacts[] = [];
  while (!reader.done) facts.push(readRequestSpanFacts(reader));
  return facts;
}

const enum ValueKind {
  String = 0,
  Number = 1,
  Boolean = 2,
  Array = 3,
  /** An array item that is null or undefined (attribute arrays may hold them). */
  Empty = 4,
}

/** A sampler's attributes (rare): count, then key and value of each; values of the attribute kinds. */
function writeAttributes(out: FactsWriter, attributes: Attributes | undefined): void {
  if (attributes === undefined) {
    out.num(-1);
    return;
  }
  const keys = Object.keys(attributes).filter((key) => attributes[key] !== undefined && attributes[key] !== null);
  out.num(keys.length);
  for (const key of keys) {
    out.str(key);
    writeValue(out, attributes[key]);
  }
}

function writeValue(out: FactsWriter, value: AttributeValue | null | undefined): void {
  if (typeof value === 'string') {
    out.num(ValueKind.String);
    out.str(value);
  } else if (typeof value === 'number') {
    out.num(ValueKind.Number);
    out.num(value);
  } else if (typeof value === 'boolean') {
    out.num(ValueKind.Boolean);
    out.bool(value);
  } else if (Array.isArray(value)) {
    out.num(ValueKind.Array);
    out.num(value.length);
    for (const item of value as readonly (string | number | boolean | null | undefined)[]) writeValue(out, item);
  } else {
    out.num(ValueKind.Empty);
  }
}

function readAttributes(from: FactsReader): Attributes | undefined {
  const count = from.count();
  if (count < 0) return undefined;
  const attributes: Attributes = {};
  for (let i = 0; i < count; i++) {
    const key = required(from.str());
    attributes[key] = readValue(from) as AttributeValue;
  }
  return attributes;
}

function readValue(from: FactsReader): AttributeValue | null | undefined {
  switch (from.count()) {
    case ValueKind.String:
      return from.str();
    case ValueKind.Number:
      return from.num();
    case ValueKind.Boolean:
      return from.bool();
    case ValueKind.Array: {
      const items: (string | number | boolean | null | undefined)[] = [];
      for (let i = from.count(); i > 0; i--) items.push(readValue(from) as string | number | boolean | null | undefined);
      return items as AttributeValue;
    }
    default:
      return undefined;
  }
}

function required(value: string | undefined): string {
  if (value === undefined) throw new RangeError('span facts are malformed: a required string is absent');
  return value;
}
