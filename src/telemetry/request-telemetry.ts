import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { TokenCounts } from '../cost/cost.js';
import type { PriceBook, RequestCost } from '../cost/price-book.js';
import { accessLineWriter, accessLogRecord, type AccessLogRecord } from './access-log.js';
import type { AuditLog } from './audit-log.js';
import type { InternalErrors } from '../errors/internal-errors.js';
import { measureRequest, type RequestMeasures } from './measures.js';
import type { MetricsRecorder } from './metrics/recorder.js';
import type { RequestObservation } from './observation.js';
import type { RequestStatistics } from './stats/request-statistics.js';
import type { RequestTracer } from './tracing/request-trace.js';
import { TRACE_RESPONSE_HEADER, traceResponseValue } from './tracing/trace-response.js';

/** Collapses label values clients control into a bounded set. */
export interface LabelPolicy {
  modelLabel(requestedModel: string | undefined): string;
  /** Declared tenants keep their name; others collapse into one value; no key is "none". */
  tenantLabel(tenant: string | undefined): string;
}

const NOTHING_MEASURED: TokenCounts = { input: 0, cachedInput: 0, output: 0 };

/**
 * Reads each finished observation once and derives everything from the same facts: the
 * Prometheus series, the JSON statistics, the cost and the access-log line. It runs after the
 * response, where nothing awaits it: each of those steps runs under the guard on its own, so one
 * failing step is reported and the others still run.
 */
export class RequestTelemetry {
  private readonly writeAccessLine: ((record: AccessLogRecord) => void) | undefined;

  constructor(
    private readonly dependencies: {
      readonly metrics: MetricsRecorder | undefined;
      readonly statistics: RequestStatistics | undefined;
      readonly prices: PriceBook;
      readonly labels: LabelPolicy;
      readonly accessLog: Logger | undefined;
      /** Who did what, for API requests (undefined when logging.audit is off). */
      readonly audit?: AuditLog | undefined;
      /** Settles the request's rate-limit reservation with the tokens and cost it really used (a promise: its failure is reported too). */
      readonly settlement?: ((observation: RequestObservation, tokens: TokenCounts, costNanos: bigint) => void | Promise<void>) | undefined;
      /** Spans (undefined when tracing is off). */
      readonly tracing?: RequestTracer | undefined;
      readonly internalErrors: InternalErrors;
    },
  ) {
    this.writeAccessLine = dependencies.accessLog === undefined ? undefined : accessLineWriter(dependencies.accessLog);
  }

  requestStarted(): void {
    this.dependencies.statistics?.requestStarted(Date.now());
  }

  /**
   * Opens the request's SERVER span when tracing is on, names a sampled trace in the response
   * headers fastify writes (proxied responses add it in the exchange), and runs the rest of the
   * request (`next`) inside the span's context.
   */
  beginTrace(
    observation: RequestObservation,
    headers: IncomingHttpHeaders,
    response: ServerResponse,
    reply: { header(name: string, value: string): unknown },
    next: () => void,
  ): void {
    const tracing = this.dependencies.tracing;
    if (tracing === undefined) return next();
    tracing.requestStarted(observation, headers, response);
    if (observation.traceId !== undefined) reply.header(TRACE_RESPONSE_HEADER, traceResponseValue(observation.traceId, observation.spanId));
    tracing.continueInTrace(observation, next);
  }

  complete(observation: RequestObservation): void {
    const { internalErrors, prices, settlement } = this.dependencies;
    const requestId = observation.requestId;
    const measured = internalErrors.attempt(
      'measures',
      () => {
        const measures = measureRequest(observation);
        return { measures, cost: prices.costOf(observation.requestedModel, observation.replica, measures.tokens, observation.replicaBusyShareMs) };
      },
      requestId,
    );
    // First: whatever else goes wrong, a concurrency slot or reservation is never left held.
    if (settlement !== undefined) internalErrors.run('settlement', () => settlement(observation, measured?.measures.tokens ?? NOTHING_MEASURED, measured?.cost.nanos ?? 0n), requestId);
    const { metrics, labels, tracing } = this.dependencies;
    const statistics = observation.inStatistics ? this.dependencies.statistics : undefined;
    if (measured === undefined) {
      // Unrecorded, but over: the in-flight count must not keep it.
      if (statistics !== undefined) internalErrors.run('statistics', () => statistics.requestEnded(Date.now()), requestId);
      return;
    }
    const { measures, cost } = measured;
    const model = internalErrors.attempt('metrics', () => labels.modelLabel(observation.requestedModel), requestId) ?? 'none';
    const tenant = internalErrors.attempt('metrics', () => labels.tenantLabel(observation.tenant), requestId) ?? 'none';
    if (metrics !== undefined) {
      internalErrors.run('metrics', () => metrics.record(observation, measures, cost, { model, replica: observation.replica ?? 'none', tenant }), requestId);
    }
    if (statistics !== undefined) internalErrors.run('statistics', () => this.recordStatistics(statistics, observation, measures, cost, model, tenant), requestId);
    const writeAccessLine = this.writeAccessLine;
    if (writeAccessLine !== undefined) internalErrors.run('access_log', () => writeAccessLine(accessLogRecord(observation, measures, cost, prices.currency)), requestId);
    const audit = this.dependencies.audit;
    // Traffic only: probes, scrapes and admin reads are not something a client did.
    if (audit !== undefined && observation.inStatistics) internalErrors.run('audit_log', () => audit.request(observation, measures, cost, prices.currency), requestId);
    if (tracing !== undefined) internalErrors.run('tracing', () => tracing.finish(observation, measures), requestId);
  }

  private recordStatistics(statistics: RequestStatistics, observation: RequestObservation, measures: RequestMeasures, cost: RequestCost, model: string, tenant: string): void {
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
}
