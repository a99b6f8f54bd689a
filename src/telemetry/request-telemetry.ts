import type { Logger } from 'pino';
import type { InternalErrors } from '../errors/internal-errors.js';
import type { RequestObservation } from '../lifecycle/observation.js';
import type { RequestCost, RequestEnd, RequestSubscriber } from '../lifecycle/request-lifecycle.js';
import { accessLineWriter, accessLogRecord } from './access-log.js';
import type { AuditLog } from './audit-log.js';
import { measureRequest, type RequestMeasures } from './measures.js';
import type { MetricsRecorder } from './metrics/recorder.js';
import type { RequestStatistics } from './stats/request-statistics.js';
import type { RequestTracer } from './tracing/request-trace.js';

/** Collapses label values clients control into a bounded set. */
export interface LabelPolicy {
  modelLabel(requestedModel: string | undefined): string;
  /** Declared tenants keep their name; others collapse into one value; no key is "none". */
  tenantLabel(tenant: string | undefined): string;
}

/** What every telemetry output reads of one finished request, derived once. */
interface Measured {
  readonly measures: RequestMeasures;
  readonly cost: RequestCost;
  readonly model: string;
  readonly tenant: string;
}

/**
 * Telemetry's subscribers to the request lifecycle: the Prometheus series, the JSON statistics,
 * the access-log line, the audit line and the spans, all from the same facts: the finished
 * observation, and the tokens and cost the lifecycle counted once (the figures settlement used
 * too). Each is a subscriber of its own, so the lifecycle guards each one under its own name and
 * one failing output never stops the others.
 */
export class RequestTelemetry {
  /** The request the lifecycle is ending and what was derived from it: each subscriber reads it, measured once. */
  private lastEnd: RequestEnd | undefined;
  private lastMeasured: Measured | undefined;

  constructor(
    private readonly dependencies: {
      readonly metrics: MetricsRecorder | undefined;
      readonly statistics: RequestStatistics | undefined;
      /** The currency of the costs (the access and audit lines name it). */
      readonly currency: string;
      readonly labels: LabelPolicy;
      readonly accessLog: Logger | undefined;
      /** Who did what, for API requests (undefined when logging.audit is off). */
      readonly audit?: AuditLog | undefined;
      /** Spans (undefined when tracing is off). */
      readonly tracing?: RequestTracer | undefined;
      readonly internalErrors: InternalErrors;
    },
  ) {}

  /** The subscribers of the configured outputs, in the order they run: metrics, statistics, access log, audit log, spans. */
  subscribers(): RequestSubscriber[] {
    const { metrics, statistics, accessLog, audit, tracing, currency } = this.dependencies;
    const subscribers: RequestSubscriber[] = [];
    if (metrics !== undefined) {
      subscribers.push({
        name: 'metrics',
        ended: (observation, end) => {
          const measured = this.measured(observation, end);
          if (measured !== undefined) metrics.record(observation, measured.measures, measured.cost, { model: measured.model, replica: observation.replica ?? 'none', tenant: measured.tenant });
        },
      });
    }
    if (statistics !== undefined) {
      subscribers.push({
        name: 'statistics',
        started: (observation) => {
          if (observation.inStatistics) statistics.requestStarted(Date.now());
        },
        ended: (observation, end) => {
          if (!observation.inStatistics) return;
          const measured = this.measured(observation, end);
          // Unrecorded when it cannot be measured, but over: the in-flight count must not keep it.
          if (measured === undefined) statistics.requestEnded(Date.now());
          else recordStatistics(statistics, observation, measured);
        },
      });
    }
    if (accessLog !== undefined) {
      const writeAccessLine = accessLineWriter(accessLog);
      subscribers.push({
        name: 'access_log',
        ended: (observation, end) => {
          const measured = this.measured(observation, end);
          if (measured !== undefined) writeAccessLine(accessLogRecord(observation, measured.measures, measured.cost, currency));
        },
      });
    }
    if (audit !== undefined) {
      subscribers.push({
        name: 'audit_log',
        ended: (observation, end) => {
          // Traffic only: probes, scrapes and admin reads are not something a client did.
          if (!observation.inStatistics) return;
          const measured = this.measured(observation, end);
          if (measured !== undefined) audit.request(observation, measured.measures, measured.cost, currency);
        },
      });
    }
    if (tracing !== undefined) {
      subscribers.push({
        name: 'tracing',
        started: (observation, arrival) => tracing.requestStarted(observation, arrival.headers, arrival.response),
        ended: (observation, end) => {
          const measured = this.measured(observation, end);
          if (measured !== undefined) tracing.finish(observation, measured.measures);
        },
      });
    }
    return subscribers;
  }

  /**
   * The measures and labels of the request being ended, derived by the first subscriber that asks
   * and reused by the others: the lifecycle hands one request's end to all of them before the
   * next one's. Undefined when the lifecycle could not count its tokens, or the measures failed
   * (reported once, as `measures`).
   */
  private measured(observation: RequestObservation, end: RequestEnd): Measured | undefined {
    if (this.lastEnd === end) return this.lastMeasured;
    this.lastEnd = end;
    this.lastMeasured = undefined;
    const usage = end.usage;
    if (usage === undefined) return undefined;
    const { internalErrors, labels } = this.dependencies;
    const requestId = observation.requestId;
    const measures = internalErrors.attempt('measures', () => measureRequest(observation, usage.tokens), requestId);
    if (measures === undefined) return undefined;
    const model = internalErrors.attempt('metrics', () => labels.modelLabel(observation.requestedModel), requestId) ?? 'none';
    const tenant = internalErrors.attempt('metrics', () => labels.tenantLabel(observation.tenant), requestId) ?? 'none';
    this.lastMeasured = { measures, cost: usage.cost, model, tenant };
    return this.lastMeasured;
  }
}

function recordStatistics(statistics: RequestStatistics, observation: RequestObservation, { measures, cost, model, tenant }: Measured): void {
  const now = Date.now();
  statistics.requestEnded(now);
  statistics.record({
    model,
    replica: observation.replica ?? null,
    tenant,
    routingOutcome: observation.routingOutcome ?? null,
    endedAtMs: now,
    success: measures.outcome === 'success',
    errorType: measures.errorType,
    latencyMs: measures.endToEndMs,
    ttftMs: measures.ttftMs ?? null,
    decodeTokensPerSecond: measures.decodeTokensPerSecond ?? null,
    inputTokens: measures.tokens.input,
    cachedInputTokens: measures.tokens.cachedInput,
    outputTokens: measures.tokens.output,
    tokensEstimated: measures.tokens.source === 'estimated',
    costNanos: cost.nanos,
  });
}
