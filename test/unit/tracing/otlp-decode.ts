/**
 * A small decoder of OTLP `ExportTraceServiceRequest` protobuf, written from the OTLP .proto files
 * (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto), independent of both encoders
 * under test. It yields plain objects with proto3 semantics: a scalar field at its default value
 * reads the same whether written or left out, so two encodings of one message decode equal
 * whatever their field order and whether they spell out zeros. AnyValue is a oneof: its members
 * keep presence (an int_value of 0 is a value). Unknown fields and wrong wire types throw.
 */

type Kind = 'string' | 'bytes' | 'varint' | 'int64' | 'bool' | 'fixed64' | 'fixed32' | 'double' | { readonly message: string };

interface Field {
  readonly name: string;
  readonly kind: Kind;
  readonly repeated?: boolean;
}

const SCHEMA: Record<string, { readonly oneof?: boolean; readonly fields: Record<number, Field> }> = {
  ExportTraceServiceRequest: { fields: { 1: { name: 'resourceSpans', kind: { message: 'ResourceSpans' }, repeated: true } } },
  ResourceSpans: {
    fields: {
      1: { name: 'resource', kind: { message: 'Resource' } },
      2: { name: 'scopeSpans', kind: { message: 'ScopeSpans' }, repeated: true },
      3: { name: 'schemaUrl', kind: 'string' },
    },
  },
  Resource: {
    fields: {
      1: { name: 'attributes', kind: { message: 'KeyValue' }, repeated: true },
      2: { name: 'droppedAttributesCount', kind: 'varint' },
    },
  },
  ScopeSpans: {
    fields: {
      1: { name: 'scope', kind: { message: 'InstrumentationScope' } },
      2: { name: 'spans', kind: { message: 'Span' }, repeated: true },
      3: { name: 'schemaUrl', kind: 'string' },
    },
  },
  InstrumentationScope: {
    fields: {
      1: { name: 'name', kind: 'string' },
      2: { name: 'version', kind: 'string' },
      3: { name: 'attributes', kind: { message: 'KeyValue' }, repeated: true },
      4: { name: 'droppedAttributesCount', kind: 'varint' },
    },
  },
  Span: {
    fields: {
      1: { name: 'traceId', kind: 'bytes' },
      2: { name: 'spanId', kind: 'bytes' },
      3: { name: 'traceState', kind: 'string' },
      4: { name: 'parentSpanId', kind: 'bytes' },
      5: { name: 'name', kind: 'string' },
      6: { name: 'kind', kind: 'varint' },
      7: { name: 'startTimeUnixNano', kind: 'fixed64' },
      8: { name: 'endTimeUnixNano', kind: 'fixed64' },
      9: { name: 'attributes', kind: { message: 'KeyValue' }, repeated: true },
      10: { name: 'droppedAttributesCount', kind: 'varint' },
      11: { name: 'events', kind: { message: 'Event' }, repeated: true },
      12: { name: 'droppedEventsCount', kind: 'varint' },
      13: { name: 'links', kind: { message: 'Link' }, repeated: true },
      14: { name: 'droppedLinksCount', kind: 'varint' },
      15: { name: 'status', kind: { message: 'Status' } },
      16: { name: 'flags', kind: 'fixed32' },
    },
  },
  Event: {
    fields: {
      1: { name: 'timeUnixNano', kind: 'fixed64' },
      2: { name: 'name', kind: 'string' },
      3: { name: 'attributes', kind: { message: 'KeyValue' }, repeated: true },
      4: { name: 'droppedAttributesCount', kind: 'varint' },
    },
  },
  Link: {
    fields: {
      1: { name: 'traceId', kind: 'bytes' },
      2: { name: 'spanId', kind: 'bytes' },
      3: { name: 'traceState', kind: 'string' },
      4: { name: 'attributes', kind: { message: 'KeyValue' }, repeated: true },
      5: { name: 'droppedAttributesCount', kind: 'varint' },
      6: { name: 'flags', kind: 'fixed32' },
    },
  },
  Status: { fields: { 2: { name: 'message', kind: 'string' }, 3: { name: 'code', kind: 'varint' } } },
  KeyValue: { fields: { 1: { name: 'key', kind: 'string' }, 2: { name: 'value', kind: { message: 'AnyValue' } } } },
  AnyValue: {
    oneof: true,
    fields: {
      1: { name: 'stringValue', kind: 'string' },
      2: { name: 'boolValue', kind: 'bool' },
      3: { name: 'intValue', kind: 'int64' },
      4: { name: 'doubleValue', kind: 'double' },
      5: { name: 'arrayValue', kind: { message: 'ArrayValue' } },
      6: { name: 'kvlistValue', kind: { message: 'KeyValueList' } },
      7: { name: 'bytesValue', kind: 'bytes' },
    },
  },
  ArrayValue: { fields: { 1: { name: 'values', kind: { message: 'AnyValue' }, repeated: true } } },
  KeyValueList: { fields: { 1: { name: 'values', kind: { message: 'KeyValue' }, repeated: true } } },
};

export type Decoded = { [field: string]: unknown };

export function decodeTraceRequest(bytes: Uint8Array): Decoded {
  return decodeMessage('ExportTraceServiceRequest', bytes, 0, bytes.length);
}

const WIRE_OF: Record<string, number> = { string: 2, bytes: 2, varint: 0, int64: 0, bool: 0, fixed64: 1, fixed32: 5, double: 1 };

function decodeMessage(type: string, bytes: Uint8Array, start: number, end: number): Decoded {
  const schema = SCHEMA[type]!;
  const out: Decoded = {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= end) throw new Error(`${type}: varint runs past the end`);
      const byte = bytes[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      if (shift > 63n) throw new Error(`${type}: varint longer than 10 bytes`);
    }
  };
  while (pos < end) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    const field = schema.fields[number];
    if (field === undefined) throw new Error(`${type}: unknown field ${number}`);
    const expectedWire = typeof field.kind === 'string' ? WIRE_OF[field.kind] : 2;
    if (wire !== expectedWire) throw new Error(`${type}.${field.name}: wire type ${wire}, expected ${expectedWire}`);
    let value: unknown;
    if (wire === 2) {
      const length = Number(varint());
      if (pos + length > end) throw new Error(`${type}.${field.name}: length ${length} runs past the end`);
      const body = bytes.subarray(pos, pos + length);
      if (typeof field.kind === 'object') value = decodeMessage(field.kind.message, bytes, pos, pos + length);
      else if (field.kind === 'string') value = new TextDecoder('utf-8', { fatal: true }).decode(body);
      else value = Buffer.from(body).toString('hex');
      pos += length;
    } else if (wire === 0) {
      const raw = varint();
      value = field.kind === 'bool' ? raw !== 0n : field.kind === 'int64' ? BigInt.asIntN(64, raw).toString() : raw.toString();
    } else if (wire === 1) {
      value = field.kind === 'double' ? view.getFloat64(pos, true) : view.getBigUint64(pos, true).toString();
      pos += 8;
    } else {
      value = view.getUint32(pos, true).toString();
      pos += 4;
    }
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(value);
    else {
      if (schema.oneof && Object.keys(out).length > 0) throw new Error(`${type}: more than one member of the oneof`);
      out[field.name] = value;
    }
  }
  if (schema.oneof) return out;
  for (const [name, value] of Object.entries(out)) {
    if (value === '' || value === '0' || value === false) delete out[name];
  }
  return out;
}
