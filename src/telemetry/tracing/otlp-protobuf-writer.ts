import type { Attributes, SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { AttributeInput } from './span-attributes.js';

/**
 * The protobuf writing that both OTLP span encoders share (`OtlpSpanEncoder` for finished SDK
 * spans, `RequestSpanEncoder` for request span facts on the export thread): one growing buffer per
 * message, the wire primitives, and OTLP's KeyValue, AnyValue, Resource and InstrumentationScope.
 * It writes what `ProtobufTraceSerializer` of @opentelemetry/otlp-transformer writes (proven field
 * by field in test/unit/tracing/otlp-span-encoder.test.ts) for less CPU, because it runs for every
 * span of every request: one pass instead of a size-estimate pass plus a write pass, attribute keys
 * (the same few dozen strings on every span) encoded once and copied afterwards, and so are whole
 * key-value pairs that repeat (`keyValue`: most of a span's attributes), ids decoded from hex
 * straight into the buffer, and fields that only repeat proto3 defaults (zero dropped counts) left
 * out.
 *
 * Length-delimited fields reserve one byte for their length (almost every attribute, event and
 * status is shorter than 128 bytes) and move their content when the length needs more, so the
 * output is canonical protobuf.
 */

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** Span flags (OTLP `SpanFlags`): the low byte is the W3C trace flags. */
const CONTEXT_HAS_IS_REMOTE = 0x100;
const CONTEXT_IS_REMOTE = 0x200;
const INITIAL_BYTES = 64 * 1024;
/** Strings shorter than this are copied by a loop (cheaper than a call into native code). */
const SHORT_STRING = 64;
/** Attribute keys come from our code and the instrumentations; the bound only guards a runaway caller. */
const MAX_CACHED_KEYS = 1024;
const MAX_VALUES_PER_KEY = 32;
const MAX_CACHED_VALUE_CHARS = 64;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
const TWO_POW_32 = 0x1_0000_0000;

function tag(field: number, wire: WireType): number {
  return (field << 3) | wire;
}

const KEY_VALUE_KEY = tag(1, WireType.LengthDelimited);

const NO_BYTES = Buffer.alloc(0);

/** What an attribute's value may be, as the API types it and as request span facts hold lists. */
type OtlpValue = AttributeInput | Attributes | null | undefined;

/** The `flags` field of an OTLP Span or Link: the trace flags, and whether the parent is remote. */
export function spanFlags(traceFlags: number, parentIsRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | CONTEXT_HAS_IS_REMOTE | (parentIsRemote ? CONTEXT_IS_REMOTE : 0);
}

export class OtlpProtobufWriter {
  private buffer = NO_BYTES;
  private pos = 0;
  /** The next message's buffer: a quarter more than the last one took, so it rarely grows. */
  private expectedBytes = INITIAL_BYTES;
  private readonly float = new Float64Array(1);
  private readonly floatBytes = new Uint8Array(this.float.buffer);
  /** key → the bytes of `KeyValue.key` (tag, length, UTF-8). */
  private readonly keys = new Map<string, Uint8Array>();
  /**
   * key → value → the whole encoded KeyValue (length and body): most attributes repeat from span
   * to span (operation, provider, model, route, status, outcome), so they become one copy. A key
   * with more than MAX_VALUES_PER_KEY distinct values maps to null and is encoded every time.
   */
  private readonly pairs = new Map<string, Map<string | number | boolean, Uint8Array> | null>();

  /** Starts a message in a fresh buffer. */
  begin(): void {
    this.buffer = Buffer.allocUnsafeSlow(this.expectedBytes);
    this.pos = 0;
  }

  /**
   * The message written since `begin`, in a memory block of its own that the writer lets go of:
   * the caller may keep it (for retries) or transfer its `buffer` to another thread.
   */
  end(): Uint8Array {
    this.expectedBytes = Math.max(INITIAL_BYTES, Math.ceil(this.pos * 1.25));
    const body = this.buffer.subarray(0, this.pos);
    this.buffer = NO_BYTES;
    this.pos = 0;
    return body;
  }

  // ------------------------------------------------------------------ OTLP messages

  /** `Resource` as field `field` of the enclosing message. */
  resource(field: number, resource: Resource): void {
    this.tag(field, WireType.LengthDelimited);
    const start = this.startLengthDelimited();
    this.attributes(1, resource.attributes);
    this.finishLengthDelimited(start);
  }

  /** `InstrumentationScope` as field `field` of the enclosing message. */
  scope(field: number, scope: InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number }): void {
    this.tag(field, WireType.LengthDelimited);
    const start = this.startLengthDelimited();
    this.stringField(1, scope.name);
    if (scope.version) this.stringField(2, scope.version);
    if (scope.attributes !== undefined) this.attributes(3, scope.attributes);
    this.countField(4, scope.droppedAttributesCount);
    this.finishLengthDelimited(start);
  }

  /** A span's `Status` as field `field`. */
  status(field: number, status: SpanStatus): void {
    this.tag(field, WireType.LengthDelimited);
    const start = this.startLengthDelimited();
    if (status.message) this.stringField(2, status.message);
    this.tag(3, WireType.Varint);
    this.varint32(status.code);
    this.finishLengthDelimited(start);
  }

  /** Every own attribute of `attributes` as a repeated KeyValue field `field`. */
  attributes(field: number, attributes: Attributes): void {
    for (const key in attributes) {
      if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
      this.keyValue(field, key, attributes[key]);
    }
  }

  /**
   * One KeyValue as field `field`: copied whole when the pair was seen before. A string value is
   * looked up by its hash, which V8 computes once per string object: the export thread's facts
   * reader hands back one object per repeated value (span-facts-codec.ts), so a repeat costs no
   * hashing; a key whose values keep changing stops being cached after MAX_VALUES_PER_KEY of them.
   */
  keyValue(field: number, key: string, value: OtlpValue): void {
    this.tag(field, WireType.LengthDelimited);
    const cacheable = typeof value === 'string' ? value.length <= MAX_CACHED_VALUE_CHARS : typeof value === 'number' || typeof value === 'boolean';
    const known = cacheable ? this.knownPairs(key) : undefined;
    if (known !== undefined) {
      const bytes = known.get(value as string | number | boolean);
      if (bytes !== undefined) {
        this.copy(bytes);
        return;
      }
    }
    const start = this.pair(key, value);
    if (known !== undefined) this.remember(key, known, value as string | number | boolean, start);
  }

  /** A KeyValue's length and body; returns where it starts. */
  private pair(key: string, value: OtlpValue): number {
    const start = this.startLengthDelimited();
    this.key(key);
    this.tag(2, WireType.LengthDelimited);
    const body = this.startLengthDelimited();
    this.anyValue(value);
    this.finishLengthDelimited(body);
    this.finishLengthDelimited(start);
    return start;
  }

  /** The encoded pairs of this key, while it has few distinct values; undefined once it has too many. */
  private knownPairs(key: string): Map<string | number | boolean, Uint8Array> | undefined {
    const known = this.pairs.get(key);
    if (known !== undefined) return known ?? undefined;
    if (this.pairs.size >= MAX_CACHED_KEYS) return undefined;
    const fresh = new Map<string | number | boolean, Uint8Array>();
    this.pairs.set(key, fresh);
    return fresh;
  }

  /** Keeps the KeyValue just written at `start` (length and body) for the next span with the same pair. */
  private remember(key: string, known: Map<string | number | boolean, Uint8Array>, value: string | number | boolean, start: number): void {
    if (known.size >= MAX_VALUES_PER_KEY) {
      // An identifier, a measurement: caching it would only cost memory.
      this.pairs.set(key, null);
      return;
    }
    const bytes = Buffer.allocUnsafeSlow(this.pos - start);
    this.buffer.copy(bytes, 0, start, this.pos);
    known.set(value, bytes);
  }

  private copy(bytes: Uint8Array): void {
    const length = bytes.length;
    this.ensure(length);
    const buffer = this.buffer;
    let pos = this.pos;
    if (length <= SHORT_STRING) {
      for (let i = 0; i < length; i++) buffer[pos++] = bytes[i]!;
    } else {
      buffer.set(bytes, pos);
      pos += length;
    }
    this.pos = pos;
  }

  private key(key: string): void {
    let bytes = this.keys.get(key);
    if (bytes === undefined) {
      const length = Buffer.byteLength(key);
      const encoded = Buffer.allocUnsafeSlow(1 + varintSize(length) + length);
      let at = 0;
      encoded[at++] = KEY_VALUE_KEY;
      for (let rest = length; ; rest >>>= 7) {
        if (rest < 0x80) {
          encoded[at++] = rest;
          break;
        }
        encoded[at++] = (rest & 0x7f) | 0x80;
      }
      encoded.write(key, at, 'utf8');
      bytes = encoded;
      if (this.keys.size < MAX_CACHED_KEYS) this.keys.set(key, bytes);
    }
    this.copy(bytes);
  }

  /** AnyValue's body; a value of no supported kind leaves it empty, as the standard serializer does. */
  private anyValue(value: OtlpValue): void {
    switch (typeof value) {
      case 'string':
        this.stringField(1, value);
        return;
      case 'boolean':
        this.tag(2, WireType.Varint);
        this.varint32(value ? 1 : 0);
        return;
      case 'number':
        if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
          this.tag(3, WireType.Varint);
          this.varint64(value);
        } else {
          this.tag(4, WireType.Fixed64);
          this.double(value);
        }
        return;
      case 'object':
        if (value === null) return;
        if (value instanceof Uint8Array) {
          this.tag(7, WireType.LengthDelimited);
          this.bytes(value);
        } else if (Array.isArray(value)) {
          this.tag(5, WireType.LengthDelimited);
          const array = this.startLengthDelimited();
          for (const item of value) {
            this.tag(1, WireType.LengthDelimited);
            const start = this.startLengthDelimited();
            this.anyValue(item);
            this.finishLengthDelimited(start);
          }
          this.finishLengthDelimited(array);
        } else {
          this.tag(6, WireType.LengthDelimited);
          const list = this.startLengthDelimited();
          this.attributes(1, value as Attributes);
          this.finishLengthDelimited(list);
        }
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ primitives

  private ensure(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }

  tag(field: number, wire: WireType): void {
    this.varint32(tag(field, wire));
  }

  /** A non-negative integer below 2^32. */
  varint32(value: number): void {
    this.ensure(5);
    const buffer = this.buffer;
    let pos = this.pos;
    let rest = value >>> 0;
    while (rest >= 0x80) {
      buffer[pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    buffer[pos++] = rest;
    this.pos = pos;
  }

  /** An int64 (two's complement for negative values: ten bytes). */
  private varint64(value: number): void {
    if (value >= 0 && value < TWO_POW_32) {
      this.varint32(value);
      return;
    }
    const magnitude = Math.abs(value);
    let low = magnitude >>> 0;
    let high = Math.floor(magnitude / TWO_POW_32) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.ensure(10);
    const buffer = this.buffer;
    let pos = this.pos;
    while (high > 0 || low >= 0x80) {
      buffer[pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buffer[pos++] = low;
    this.pos = pos;
  }

  /** A count field, left out when zero or absent (the proto3 default). */
  countField(field: number, count: number | undefined): void {
    if (!count) return;
    this.tag(field, WireType.Varint);
    this.varint32(count);
  }

  fixed32Field(field: number, value: number): void {
    this.tag(field, WireType.Fixed32);
    this.ensure(4);
    this.buffer.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  private double(value: number): void {
    this.ensure(8);
    this.float[0] = value;
    const buffer = this.buffer;
    const bytes = this.floatBytes;
    let pos = this.pos;
    for (let i = 0; i < 8; i++) buffer[pos++] = bytes[i]!;
    this.pos = pos;
  }

  /**
   * Nanoseconds since the epoch (`seconds` and `nanos` of an HrTime) as fixed64. seconds × 1e9
   * passes 2^53, so seconds is split at bit 16: each half times 1e9 stays an exact double below
   * 2^46, and the halves are recombined in 32-bit words (`>>> 0` is exact modulo 2^32 for such
   * integers).
   */
  timeField(field: number, seconds: number, nanos: number): void {
    this.tag(field, WireType.Fixed64);
    const lowPart = (seconds & 0xffff) * 1e9;
    const highPart = Math.floor(seconds / 0x10000) * 1e9;
    const sum = (lowPart >>> 0) + (highPart & 0xffff) * 0x10000 + nanos;
    const low = sum >>> 0;
    const high = Math.floor(lowPart / TWO_POW_32) + Math.floor(highPart / 0x10000) + Math.floor(sum / TWO_POW_32);
    this.ensure(8);
    const buffer = this.buffer;
    const pos = this.pos;
    buffer[pos] = low;
    buffer[pos + 1] = low >>> 8;
    buffer[pos + 2] = low >>> 16;
    buffer[pos + 3] = low >>> 24;
    buffer[pos + 4] = high;
    buffer[pos + 5] = high >>> 8;
    buffer[pos + 6] = high >>> 16;
    buffer[pos + 7] = high >>> 24;
    this.pos = pos + 8;
  }

  /** A trace or span id, given in hex, as its bytes. */
  hexField(field: number, hex: string): void {
    this.tag(field, WireType.LengthDelimited);
    const length = hex.length >>> 1;
    this.ensure(1 + length);
    const buffer = this.buffer;
    let pos = this.pos;
    buffer[pos++] = length;
    for (let i = 0; i < hex.length; i += 2) buffer[pos++] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
    this.pos = pos;
  }

  private bytes(bytes: Uint8Array): void {
    this.varint32(bytes.length);
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  stringField(field: number, text: string): void {
    this.tag(field, WireType.LengthDelimited);
    const chars = text.length;
    if (chars < SHORT_STRING) {
      // One length byte reserved: ASCII copied by the loop; otherwise UTF-8 by Buffer.write (up
      // to 3 bytes a char) and the content moved if its length needs a second byte.
      this.ensure(1 + 3 * chars);
      const buffer = this.buffer;
      const start = this.pos;
      let pos = start + 1;
      let i = 0;
      for (; i < chars; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        buffer[pos++] = code;
      }
      this.pos = i === chars ? pos : start + 1 + buffer.write(text, start + 1, 'utf8');
      this.finishLengthDelimited(start);
      return;
    }
    const length = Buffer.byteLength(text, 'utf8');
    this.varint32(length);
    this.ensure(length);
    this.pos += this.buffer.write(text, this.pos, 'utf8');
  }

  /** Reserves one byte for a length and returns where it is. */
  startLengthDelimited(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length of what follows `at`, moving it when the length takes more than one byte. */
  finishLengthDelimited(at: number): void {
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buffer[at] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.ensure(extra);
    const buffer = this.buffer;
    buffer.copyWithin(at + 1 + extra, at + 1, this.pos);
    this.pos += extra;
    let pos = at;
    let rest = length;
    while (rest >= 0x80) {
      buffer[pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    buffer[pos] = rest;
  }
}

function hexDigit(code: number): number {
  // 0-9, a-f, A-F
  return code <= 57 ? code - 48 : code >= 97 ? code - 87 : code - 55;
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
}
