import type { Attributes, AttributeValue, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { AttributeInput } from './span-attributes.js';
import type { AttributeLimits } from './span-pipeline.js';

/**
 * A finished span as a plain record: what the SDK's span processors and exporters read from an
 * ended SDK span (`ReadableSpan`), built once from facts that are already final, instead of an SDK
 * `Span` opened early and filled in attribute by attribute.
 */
export class SpanRecord implements ReadableSpan {
  readonly ended = true;
  readonly links: Link[] = NO_LINKS;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly startTime: HrTime,
    readonly endTime: HrTime,
    readonly status: SpanStatus,
    readonly attributes: Attributes,
    readonly droppedAttributesCount: number,
    readonly events: TimedEvent[],
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
  ) {}

  spanContext(): SpanContext {
    return this.context;
  }

  get duration(): HrTime {
    let seconds = this.endTime[0] - this.startTime[0];
    let nanos = this.endTime[1] - this.startTime[1];
    if (nanos < 0) {
      seconds -= 1;
      nanos += 1e9;
    }
    return [seconds, nanos];
  }
}

/** Shared by every record: none has links, and nothing appends to a finished span's links. */
const NO_LINKS: Link[] = [];
export const NO_EVENTS: TimedEvent[] = [];
export const UNSET_STATUS: SpanStatus = Object.freeze({ code: 0 });

/**
 * A span's attributes as the SDK's `setAttribute` keeps them: undefined and null values left
 * out, at most `countLimit` distinct keys (the rest counted as dropped), strings (and strings in
 * arrays) cut at `valueLengthLimit`.
 */
export class AttributeCollector {
  readonly values: Attributes = {};
  private count = 0;
  dropped = 0;

  constructor(private readonly limits: AttributeLimits) {}

  addAll(attributes: Attributes): this {
    for (const key in attributes) this.add(key, attributes[key]);
    return this;
  }

  add(key: string, value: AttributeValue | undefined | null): this {
    if (value === undefined || value === null) return this;
    const values = this.values;
    if (values[key] === undefined) {
      if (this.count >= this.limits.countLimit) {
        this.dropped += 1;
        return this;
      }
      this.count += 1;
    }
    values[key] = this.limits.valueLengthLimit === Infinity ? value : truncated(value, this.limits.valueLengthLimit);
    return this;
  }
}

/** Attributes within the limits, and how many were dropped. */
export interface LimitedAttributes {
  readonly values: Attributes;
  readonly dropped: number;
}

/** Request spans have a few dozen attributes at most: under the SDK's default limits (128, unlimited length) nothing is ever dropped or cut. */
const DEFAULT_COUNT_LIMIT = 128;

/**
 * `attributes` (built without undefined values) within the span limits: as they are under the
 * default limits, else through the SDK's rules (`AttributeCollector`).
 */
export function limitedAttributes(attributes: Attributes, limits: AttributeLimits): LimitedAttributes {
  if (limits.valueLengthLimit === Infinity && limits.countLimit >= DEFAULT_COUNT_LIMIT) return { values: attributes, dropped: 0 };
  const collector = new AttributeCollector(limits).addAll(attributes);
  return { values: collector.values, dropped: collector.dropped };
}

/** `value` with its strings (and the strings in it) cut at `limit` characters, as the SDK cuts them. */
export function truncated(value: AttributeInput, limit: number): AttributeValue {
  if (typeof value === 'string') return value.length > limit ? value.slice(0, limit) : value;
  if (Array.isArray(value)) return value.map((item: unknown) => (typeof item === 'string' && item.length > limit ? item.slice(0, limit) : item)) as AttributeValue;
  return value as AttributeValue;
}

/** A performance.now() reading as the span time it stands for, with the request's one wall-clock offset. */
export function spanTime(performanceMs: number, epochOffsetMs: number): HrTime {
  const epochMs = performanceMs + epochOffsetMs;
  let seconds = Math.floor(epochMs / 1000);
  let nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}
