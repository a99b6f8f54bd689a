import type { RequestCost } from '../../lifecycle/request-lifecycle.js';
import type { RateLimitStoreObserver } from '../../ratelimit/failover.js';
import type { RequestMeasures } from '../measures.js';
import type { RequestObservation } from '../../lifecycle/observation.js';
import type { ExemplarTrace } from './fixed-histogram.js';
import type { Instruments } from './instruments.js';

const MS_PER_SECOND = 1000;
const NANOS_PER_MICRO = 1000n;
/** OpenMetrics caps an exemplar's label names and values at 128 characters together. */
const EXEMPLAR_LABEL_CHARACTERS = 128;
const EXEMPLAR_LABEL_NAME_CHARACTERS = 'trace_id'.length + 'span_id'.length;

/** The labels of one finished request, already bounded. */
export interface RequestLabels {
  readonly model: string;
  readonly replica: string;
  /** A declared tenant, "other" for undeclared ones, "none" for requests without a key. */
  readonly tenant: string;
}

/**
 * Writes one finished request into the Prometheus instruments. Milliseconds become seconds here
 * and nowhere else. A traced request (the observation has a trace id) also leaves one exemplar in
 * each latency histogram it feeds: TTFT, upstream TTFT, TPOT, end-to-end, and its largest
 * inter-chunk gap.
 */
export class MetricsRecorder {
  /** Exact running cost per series in nano-units; the counter shows its floor in micro-units. */
  private readonly costNanosBySeries = new Map<string, { nanos: bigint; exposedMicros: bigint }>();

  constructor(
    private readonly instruments: Instruments,
    private readonly currency: string,
  ) {}

  record(observation: RequestObservation, measures: RequestMeasures, cost: RequestCost, labels: RequestLabels): void {
    const { model, replica, tenant } = labels;
    const stream = observation.stream ? 'true' : 'false';
    const i = this.instruments;
    const trace = exemplarTraceOf(observation, Date.now);
    i.requests.inc({ model, replica, route: observation.route, status_class: measures.statusClass, stream, outcome: measures.outcome, tenant });
    i.endToEndLatency.observe({ model, replica, stream }, measures.endToEndMs / MS_PER_SECOND, trace);
    if (measures.overheadMs !== undefined) i.overhead.observe({ stream }, measures.overheadMs / MS_PER_SECOND);
    if (measures.errorType !== null) i.errors.inc({ type: measures.errorType });
    if (observation.routingOutcome !== undefined) i.routingDecisions.inc({ model, outcome: observation.routingOutcome });
    if (observation.failovers > 0) i.failovers.inc({ model }, observation.failovers);
    if (measures.outcome === 'client_disconnected') i.clientDisconnects.inc({ model, stream });

    const modelReplica = { model, replica };
    if (measures.ttftMs !== undefined) i.timeToFirstToken.observe(modelReplica, measures.ttftMs / MS_PER_SECOND, trace);
    if (measures.upstreamTtftMs !== undefined) i.upstreamTimeToFirstToken.observe(modelReplica, measures.upstreamTtftMs / MS_PER_SECOND, trace);
    if (measures.tpotMs !== undefined) i.timePerOutputToken.observe(modelReplica, measures.tpotMs / MS_PER_SECOND, trace);
    i.interChunkLatency.observeMany(modelReplica, measures.chunkGapsMs, MS_PER_SECOND, trace);

    const tokens = measures.tokens;
    if (tokens.source !== 'none') {
      const source = tokens.source;
      if (tokens.input > 0) i.tokens.inc({ model, replica, kind: 'input', source, tenant }, tokens.input);
      if (tokens.cachedInput > 0) i.tokens.inc({ model, replica, kind: 'cached_input', source, tenant }, tokens.cachedInput);
      if (tokens.output > 0) i.tokens.inc({ model, replica, kind: 'output', source, tenant }, tokens.output);
      if (source === 'exact') {
        i.promptTokens.observe({ model }, tokens.input);
        i.completionTokens.observe({ model }, tokens.output);
      }
    }
    if (cost.nanos > 0n) this.addCost(model, tenant, cost);
    if (observation.guardrails !== undefined) for (const { rule, action } of observation.guardrails) i.guardrailActions.inc({ rule, action });
    const overload = observation.overload;
    if (overload !== undefined) {
      const labels = { model, class: overload.priority, action: overload.action };
      i.overloadDecisions.inc(labels);
      if (overload.queuedMs !== undefined) i.overloadQueueWait.observe(labels, overload.queuedMs / MS_PER_SECOND);
    }
    const rateLimit = observation.rateLimit;
    if (rateLimit !== undefined) {
      i.rateLimitDecisions.inc({ tenant, outcome: rateLimit.outcome, limit: rateLimit.limitedBy ?? 'none' });
      i.rateLimitReservedTokens.inc({ tenant, outcome: rateLimit.outcome }, rateLimit.reservedTokens);
    }
  }

  private addCost(model: string, tenant: string, cost: RequestCost): void {
    const key = `${model}\u0000${cost.basis}\u0000${tenant}`;
    let series = this.costNanosBySeries.get(key);
    if (series === undefined) {
      series = { nanos: 0n, exposedMicros: 0n };
      this.costNanosBySeries.set(key, series);
    }
    series.nanos += cost.nanos;
    const micros = series.nanos / NANOS_PER_MICRO;
    if (micros > series.exposedMicros) {
      this.instruments.cost.inc({ model, currency: this.currency, basis: cost.basis, tenant }, Number(micros - series.exposedMicros));
      series.exposedMicros = micros;
    }
  }
}

/**
 * The exemplar trace of a finished request: none without a trace id (untraced requests cost
 * nothing more than this check), nor when the ids would break OpenMetrics' 128-character limit.
 */
export function exemplarTraceOf(
  observation: Pick<RequestObservation, 'traceId' | 'spanId'>,
  now: () => number,
): ExemplarTrace | undefined {
  const { traceId, spanId } = observation;
  if (traceId === undefined || traceId === '') return undefined;
  if (EXEMPLAR_LABEL_NAME_CHARACTERS + traceId.length + (spanId?.length ?? 0) > EXEMPLAR_LABEL_CHARACTERS) return undefined;
  return { traceId, spanId: spanId === '' ? undefined : spanId, epochMs: now() };
}

/** The rate limiter's store reports (Redis round trips, failures, degraded state) as instruments. */
export function rateLimitStoreObserver(instruments: Instruments): RateLimitStoreObserver {
  return {
    storeLatency: (operation, seconds) => instruments.rateLimitStoreLatency.observe({ operation }, seconds),
    storeError: (operation, reason) => instruments.rateLimitStoreErrors.inc({ operation, reason }),
    storeState: (state) => instruments.rateLimitStoreDegraded.set(state === 'degraded' ? 1 : 0),
  };
}
