import type { CompletedRequest } from './completed-request.js';
import { LATENCY_BUCKET_LABELS, latencyBucketOf } from './latency-buckets.js';
import {
  type CountStorage,
  isRecordable,
  LogHistogram,
  TIME_MS_LAYOUT,
  TOKENS_PER_SECOND_LAYOUT,
} from './log-histogram.js';

/** Distinct error types kept per aggregate; further types are counted under 'other'. */
export const MAX_ERROR_TYPES = 32;
export const OTHER_ERROR_TYPE = 'other';
/** A failure that came without an error type. */
export const UNKNOWN_ERROR_TYPE = 'unknown';

/** A request with its buckets looked up once, for the several aggregates it is added to. */
export interface PreparedRequest {
  readonly request: CompletedRequest;
  /** -1: the value is absent or not recordable (NaN, negative, infinite). */
  readonly latencyBucket: number;
  readonly ttftBucket: number;
  readonly decodeBucket: number;
  readonly referenceLatencyBucket: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
}

export function prepareRequest(request: CompletedRequest): PreparedRequest {
  const latencyOk = isRecordable(request.latencyMs);
  return {
    request,
    latencyBucket: latencyOk ? TIME_MS_LAYOUT.bucketOf(request.latencyMs) : -1,
    ttftBucket: isRecordable(request.ttftMs) ? TIME_MS_LAYOUT.bucketOf(request.ttftMs) : -1,
    decodeBucket: isRecordable(request.decodeTokensPerSecond)
      ? TOKENS_PER_SECOND_LAYOUT.bucketOf(request.decodeTokensPerSecond)
      : -1,
    referenceLatencyBucket: latencyOk ? latencyBucketOf(request.latencyMs) : -1,
    inputTokens: tokenCount(request.inputTokens),
    cachedInputTokens: tokenCount(request.cachedInputTokens),
    outputTokens: tokenCount(request.outputTokens),
  };
}

function tokenCount(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** Everything the snapshot reports about one set of requests; fixed size but for ≤ 33 error types. */
export class Aggregate {
  total = 0;
  successful = 0;
  failed = 0;
  estimated = 0;
  inputTokens = 0;
  cachedInputTokens = 0;
  outputTokens = 0;
  costNanos = 0n;
  readonly errorsByType = new Map<string, number>();
  /** First-replica choices by routing outcome (a handful of values the router defines). */
  readonly routingOutcomes = new Map<string, number>();
  readonly latency: LogHistogram;
  readonly ttft: LogHistogram;
  readonly decode: LogHistogram;
  /** Counts per reference latency bucket (latency-buckets.ts). */
  readonly latencyBuckets = new Float64Array(LATENCY_BUCKET_LABELS.length);

  constructor(storage: CountStorage) {
    this.latency = new LogHistogram(TIME_MS_LAYOUT, storage);
    this.ttft = new LogHistogram(TIME_MS_LAYOUT, storage);
    this.decode = new LogHistogram(TOKENS_PER_SECOND_LAYOUT, storage);
  }

  add(prepared: PreparedRequest): void {
    const request = prepared.request;
    this.total += 1;
    if (request.success) this.successful += 1;
    else {
      this.failed += 1;
      this.countError(request.errorType ?? UNKNOWN_ERROR_TYPE, 1);
    }
    if (request.tokensEstimated) this.estimated += 1;
    if (request.routingOutcome !== null) this.routingOutcomes.set(request.routingOutcome, (this.routingOutcomes.get(request.routingOutcome) ?? 0) + 1);
    this.inputTokens += prepared.inputTokens;
    this.cachedInputTokens += prepared.cachedInputTokens;
    this.outputTokens += prepared.outputTokens;
    this.costNanos += request.costNanos;
    if (prepared.latencyBucket >= 0) {
      this.latency.recordInBucket(prepared.latencyBucket, request.latencyMs);
      this.latencyBuckets[prepared.referenceLatencyBucket]! += 1;
    }
    if (prepared.ttftBucket >= 0) this.ttft.recordInBucket(prepared.ttftBucket, request.ttftMs!);
    if (prepared.decodeBucket >= 0) this.decode.recordInBucket(prepared.decodeBucket, request.decodeTokensPerSecond!);
  }

  merge(other: Aggregate): void {
    if (other.total === 0) return;
    this.total += other.total;
    this.successful += other.successful;
    this.failed += other.failed;
    this.estimated += other.estimated;
    this.inputTokens += other.inputTokens;
    this.cachedInputTokens += other.cachedInputTokens;
    this.outputTokens += other.outputTokens;
    this.costNanos += other.costNanos;
    for (const [type, count] of other.errorsByType) this.countError(type, count);
    for (const [outcome, count] of other.routingOutcomes) this.routingOutcomes.set(outcome, (this.routingOutcomes.get(outcome) ?? 0) + count);
    this.latency.merge(other.latency);
    this.ttft.merge(other.ttft);
    this.decode.merge(other.decode);
    for (let i = 0; i < this.latencyBuckets.length; i++) this.latencyBuckets[i]! += other.latencyBuckets[i]!;
  }

  reset(): void {
    this.total = this.successful = this.failed = this.estimated = 0;
    this.inputTokens = this.cachedInputTokens = this.outputTokens = 0;
    this.costNanos = 0n;
    this.errorsByType.clear();
    this.routingOutcomes.clear();
    this.latency.reset();
    this.ttft.reset();
    this.decode.reset();
    this.latencyBuckets.fill(0);
  }

  /** Bytes held by the fixed-size arrays (the error map and fields are small and bounded). */
  get byteLength(): number {
    return (
      this.latency.counts.byteLength + this.ttft.counts.byteLength + this.decode.counts.byteLength + this.latencyBuckets.byteLength
    );
  }

  private countError(type: string, count: number): void {
    const key = this.errorsByType.has(type) || this.errorsByType.size < MAX_ERROR_TYPES ? type : OTHER_ERROR_TYPE;
    this.errorsByType.set(key, (this.errorsByType.get(key) ?? 0) + count);
  }
}

/**
 * A tenant's usage: counts, tokens and cost only (no latency histograms), so a tenant costs a few
 * numbers per time slot. The figures a per-tenant cost panel needs, without the per-request work
 * of a full {@link Aggregate}.
 */
export class TenantUsage {
  total = 0;
  failed = 0;
  inputTokens = 0;
  cachedInputTokens = 0;
  outputTokens = 0;
  costNanos = 0n;

  add(prepared: PreparedRequest): void {
    this.total += 1;
    if (!prepared.request.success) this.failed += 1;
    this.inputTokens += prepared.inputTokens;
    this.cachedInputTokens += prepared.cachedInputTokens;
    this.outputTokens += prepared.outputTokens;
    this.costNanos += prepared.request.costNanos;
  }

  merge(other: TenantUsage): void {
    this.total += other.total;
    this.failed += other.failed;
    this.inputTokens += other.inputTokens;
    this.cachedInputTokens += other.cachedInputTokens;
    this.outputTokens += other.outputTokens;
    this.costNanos += other.costNanos;
  }

  reset(): void {
    this.total = this.failed = this.inputTokens = this.cachedInputTokens = this.outputTokens = 0;
    this.costNanos = 0n;
  }
}
