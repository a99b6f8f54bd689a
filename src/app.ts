import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type onRequestHookHandler, type RouteShorthandOptions } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { TollboothConfig } from './config/schema.js';
import { buildAdminApp } from './admin/admin-app.js';
import { gatewayKeyStoreAdmin } from './auth/key-admin.js';
import { createGuardrailStage } from './guardrails/stage.js';
import { OverloadController } from './overload/controller.js';
import { createOverloadStage } from './overload/stage.js';
import type { AuditLog } from './telemetry/audit-log.js';
import { metricsOnApiPort } from './admin/surface.js';
import { authenticate, authorizeModel } from './auth/auth-stage.js';
import { tenantLabeler } from './auth/tenant-label.js';
import type { KeyRing } from './auth/key-ring.js';
import { PriceBook } from './cost/price-book.js';
import { GatewayError } from './errors/gateway-error.js';
import { INFERENCE_ENDPOINTS, type InferenceEndpoint } from './proxy/endpoints.js';
import { createForwarder } from './proxy/forward.js';
import { OpenExchanges } from './proxy/open-exchanges.js';
import { passthroughGate } from './proxy/passthrough.js';
import { UpstreamPools } from './proxy/upstream-pools.js';
import { createRateLimiter } from './ratelimit/create.js';
import { RateLimitStage } from './ratelimit/rate-limit-stage.js';
import { BudgetMonitor } from './ratelimit/budget-monitor.js';
import type { ReplicaConfig } from './routing/config.js';
import { FleetMonitor } from './routing/fleet-monitor.js';
import { ReplicaRegistry } from './routing/registry.js';
import { Router } from './routing/router.js';
import { answerClientError, connectionLimitOptions, installConnectionLimits } from './server/client-connections.js';
import { installErrorHandling } from './server/error-handler.js';
import { metricsSnapshotSource, registerMetricsEndpoints, replicaFigures } from './server/metrics-endpoints.js';
import { registerDashboard } from './admin/dashboard-routes.js';
import { registerOperationRoutes } from './server/operations.js';
import { installRequestTargetCheck } from './server/request-target.js';
import { describeInferenceRequest } from './server/inference-request.js';
import { opaqueBody, parseJsonBody } from './proxy/request-body.js';
import { requestIdOf } from './server/request-id.js';
import { InternalErrors } from './errors/internal-errors.js';
import { createInstruments } from './telemetry/metrics/instruments.js';
import { MetricsRecorder, rateLimitStoreObserver } from './telemetry/metrics/recorder.js';
import { openRequestLifecycle } from './lifecycle/request-hooks.js';
import { RequestLifecycle } from './lifecycle/request-lifecycle.js';
import { RequestTelemetry } from './telemetry/request-telemetry.js';
import { createRequestTracer } from './telemetry/tracing/request-trace.js';
import { traceExportCounts } from './telemetry/tracing/span-pipeline.js';
import { AlertEngine } from './alerts/engine.js';
import { effectiveRules } from './alerts/config.js';
import { AlertRunner } from './alerts/runner.js';
import { AnomalyMonitor } from './analytics/anomaly/monitor.js';
import { anomaliesReport, anomalyAlertConditions } from './analytics/anomaly/report.js';
import { AnomalyRunner } from './analytics/anomaly/runner.js';
import { RequestStatistics } from './telemetry/stats/request-statistics.js';
import { TOLLBOOTH_VERSION } from './version.js';

export interface Gateway {
  readonly app: FastifyInstance;
  /** The admin listener's app (metrics, readiness details); undefined when admin.enabled is false. */
  readonly admin: FastifyInstance | undefined;
  readonly registry: ReplicaRegistry;
  readonly monitor: FleetMonitor;
  /** This gateway's own Prometheus registry (one per instance, so two gateways in a process never share series). */
  readonly metricsRegistry: Registry;
  /** The guard for work nothing awaits (timers, reloads, telemetry after the response), counting into `metricsRegistry`. */
  readonly internalErrors: InternalErrors;
  /** The built-in alerts' timer (start() once serving); undefined when alerts or metrics are off. */
  readonly alerts: AlertRunner | undefined;
  /** The budgets' periodic read of the store (start() once the stores are connected); undefined without auth or metrics. */
  readonly budgets: BudgetMonitor | undefined;
  /** The anomaly detectors' timer (start() once serving); undefined when analytics.anomaly or metrics are off. */
  readonly anomalies: AnomalyRunner | undefined;
  /**
   * Makes the fleet the given replicas (a reload): unchanged replicas keep their state, new ones
   * are probed before they take traffic, removed ones finish their in-flight requests.
   */
  applyReplicaSet(replicas: readonly ReplicaConfig[]): Promise<void>;
  /** Connects the shared stores (Redis for rate limits) before traffic, waiting at most `timeoutMs`. */
  connectStores(timeoutMs: number): Promise<void>;
  /** Stop taking new requests: later ones on open connections get 503 shutting_down. */
  startDraining(): void;
  /**
   * The drain deadline: ends every response still relaying from a replica (503, an in-band error
   * frame and [DONE], or a closed body; outcome drained) and resolves once their telemetry (access
   * log, metrics, settlement) has run, or after `timeoutMs`. Resolves with how many it ended.
   */
  endOpenExchanges(timeoutMs: number): Promise<number>;
  /** Closes the server (waiting for in-flight requests), the fleet monitor, upstream pools, then the admin listener. */
  close(): Promise<void>;
}

/** What the gateway needs that is started before it (asynchronously): the key ring reads Redis or a file. */
export interface GatewayDependencies {
  /** Required when config.auth.enabled. */
  readonly keys?: KeyRing | undefined;
  /** The guard the key ring already uses (it starts first); a new one otherwise. */
  readonly internalErrors?: InternalErrors | undefined;
  /** The audit log, opened before the gateway (logging.audit); closed by the caller after the gateway. */
  readonly audit?: AuditLog | undefined;
}

/**
 * Builds the gateway. The order below is the request's path:
 *   connection      header/request deadlines, body silence, connection cap  400 / 408 / 431, then closed
 *   onRequest       lifecycle: request id, observation, t0; its subscribers when the response closes
 *   onRequest       drain gate                                             503 shutting_down
 *   onRequest       request target: no dot segments, escapes, absolute form 400 invalid_path
 *   onRequest       pass-through allow-list (routes without an endpoint)    404 unknown_url
 *   onRequest       auth: API key → principal (proxied routes, /v1/models) 401 invalid_api_key
 *   content parser  body bytes kept as sent; JSON parsed once              400 / 413 / 415
 *   preHandler      request schema → model, stream                         400 / 415
 *                   model allow-list of the key                            403 model_not_allowed
 *                   guardrails (when configured): prompt length, deny patterns, PII masking
 *                                                                          400 prompt_too_long / prompt_rejected
 *                   overload control (when on): clamp max_tokens, shed     503 overloaded + Retry-After
 *   preHandler      rate limits: reserve requests, tokens, a slot, budget  429 / 503, x-ratelimit-* headers
 *   handler         router: model → replica                                404 / 503
 *                   upstream exchange: relay bytes, map failures           502 / 504, in-band SSE error
 *   error handler   any thrown error → OpenAI envelope
 *   response close  the lifecycle counts tokens and cost once, then its subscribers in order:
 *                   settlement of the reservation, metrics, statistics, access log, audit, spans
 */
export function buildGateway(config: TollboothConfig, log: Logger, dependencies: GatewayDependencies = {}): Gateway {
  const keys = config.auth.enabled ? dependencies.keys : undefined;
  if (config.auth.enabled && keys === undefined) throw new Error('auth is enabled but no key ring was given to buildGateway');
  const registry = new ReplicaRegistry(config);
  const pools = new UpstreamPools(config.upstream);
  const router = new Router(registry, config.routing);
  const internalErrors = dependencies.internalErrors ?? new InternalErrors(log);
  const monitor = new FleetMonitor(registry, pools, config.health, log.child({ component: 'fleet' }), internalErrors);
  let draining = false;
  const openExchanges = new OpenExchanges();
  const metricsRegistry = new Registry();
  const statistics = new RequestStatistics({ windowMs: config.metrics.windowMs, slotMs: config.metrics.slotMs, currency: config.cost.currency, startedAtMs: Date.now() });
  // The anomaly detectors read the statistics' closed slots, so they need the metrics on.
  const anomalySettings = config.analytics.anomaly;
  const anomalyMonitor = anomalySettings.enabled && config.metrics.enabled ? new AnomalyMonitor(anomalySettings, config.metrics.slotMs) : undefined;
  // The built-in alerts read the statistics, so they need the metrics on.
  const alertEngine = config.alerts.enabled && config.metrics.enabled ? new AlertEngine(effectiveRules(config.alerts)) : undefined;
  const firingAlerts = alertEngine === undefined ? undefined : () => alertEngine.firing();
  // Off, there is no controller and no stage: no request pays for overload control.
  const overload = config.overload.enabled ? new OverloadController(config.overload, { replicas: () => registry.replicas }, log.child({ component: 'overload' })) : undefined;
  const overloadFigures = overload === undefined ? undefined : () => overload.report();
  const instruments = createInstruments(
    metricsRegistry,
    {
      replicas: () => registry.replicas,
    },
    TOLLBOOTH_VERSION,
    {
      alerts: firingAlerts === undefined ? undefined : { firing: firingAlerts },
      anomalies: anomalyMonitor,
      // Read at scrape time, once `budgets` below exists.
      budgets: keys === undefined ? undefined : { gauges: () => budgets?.state?.gauges ?? [] },
      traceExport: traceExportCounts,
      overload,
    },
  );
  internalErrors.countInto(instruments.internalErrors);
  const alerts =
    alertEngine === undefined
      ? undefined
      : new AlertRunner({
          engine: alertEngine,
          settings: config.alerts,
          snapshot: (nowMs) => statistics.snapshot(nowMs, registry.replicas.map(replicaFigures), alertEngine.firing()),
          budgets: () => budgets?.state?.report,
          conditions: anomalyMonitor === undefined ? undefined : () => anomalyAlertConditions(anomalyMonitor, anomalySettings.thresholdSigma),
          log: log.child({ component: 'alerts' }),
          internalErrors,
        });
  const anomalies =
    anomalyMonitor === undefined
      ? undefined
      : new AnomalyRunner({
          monitor: anomalyMonitor,
          statistics,
          replicas: () => registry.replicas,
          settings: anomalySettings,
          log: log.child({ component: 'anomaly' }),
          internalErrors,
        });
  const anomaliesReportNow = anomalyMonitor === undefined ? undefined : (nowMs: number) => anomaliesReport(anomalyMonitor, anomalySettings, config.metrics.slotMs, nowMs);
  // Limits belong to keys: without auth there is no one to limit.
  const rateLimiter =
    keys === undefined
      ? undefined
      : createRateLimiter({
          rateLimits: config.rateLimits,
          redis: config.redis,
          log: log.child({ component: 'ratelimit' }),
          observer: config.metrics.enabled ? rateLimitStoreObserver(instruments) : undefined,
          internalErrors,
        });
  const rateLimits = rateLimiter === undefined ? undefined : new RateLimitStage(rateLimiter, config.rateLimits);
  const tenantLabel = tenantLabeler(config.auth.tenants);
  // Its figures are read by the metrics, the admin JSON and the built-in alerts, all off without metrics.
  const budgets =
    keys === undefined || rateLimiter === undefined || !config.metrics.enabled
      ? undefined
      : new BudgetMonitor({ reader: rateLimiter, principals: () => keys.principals(), tenantLabel, currency: config.cost.currency, settings: config.rateLimits.budgetReport, internalErrors });
  const budgetReport = budgets === undefined ? undefined : () => budgets.state?.report;
  const telemetry = new RequestTelemetry({
    metrics: config.metrics.enabled ? new MetricsRecorder(instruments, config.cost.currency) : undefined,
    statistics: config.metrics.enabled ? statistics : undefined,
    currency: config.cost.currency,
    labels: {
      modelLabel: (model) => (model === undefined ? 'none' : registry.replicasServing(model).length > 0 ? model : 'unknown'),
      tenantLabel: (tenant) => (tenant === undefined ? 'none' : tenantLabel(tenant)),
    },
    accessLog: config.logging.accessLog ? log.child({ component: 'access' }) : undefined,
    audit: dependencies.audit,
    tracing: createRequestTracer(config),
    internalErrors,
  });
  // Settlement first: whatever else fails after a response, a reservation is never left held.
  const lifecycle = new RequestLifecycle(new PriceBook(config.cost), internalErrors);
  if (rateLimits !== undefined) lifecycle.subscribe(rateLimits.settlement);
  for (const subscriber of telemetry.subscribers()) lifecycle.subscribe(subscriber);

  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // The access log (one line per request, written from the observation) replaces fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: it costs an allocation on every request, and our log lines
    // carry request_id explicitly.
    childLoggerFactory: (logger) => logger,
    genReqId: requestIdOf,
    bodyLimit: config.server.bodyLimitBytes,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    // Fastify's own 503 body is not the OpenAI shape; the drain gate below answers instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ...connectionLimitOptions(config.server),
    clientErrorHandler: answerClientError,
  });
  installConnectionLimits(app, config.server);

  openRequestLifecycle(app, lifecycle);
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done();
    void reply.header('connection', 'close');
    done(new GatewayError('shutting_down'));
  });
  installRequestTargetCheck(app);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, raw, done) => {
    try {
      done(null, parseJsonBody(raw as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, raw, done) => done(null, opaqueBody(raw as Buffer)));

  installErrorHandling(app);
  const authenticateKey = keys === undefined ? undefined : authenticate(keys);
  registerOperationRoutes(app, registry, authenticateKey);
  if (metricsOnApiPort(config)) {
    registerMetricsEndpoints(app, { settings: config.metrics, registry: metricsRegistry, statistics, fleet: registry, alerts: firingAlerts, budgets: budgetReport, overload: overloadFigures });
    // The dashboard lives on the admin listener where there is one.
    if (!config.admin.enabled) registerDashboard(app, { settings: config.metrics, snapshot: metricsSnapshotSource({ statistics, fleet: registry, alerts: firingAlerts, overload: overloadFigures }), internalErrors });
  }
  // The admin API changes keys in the store the gateway reads (its own connection when that is Redis).
  const adminApi = config.admin.enabled && (config.admin.tokens.length > 0 || config.admin.tls?.ca !== undefined);
  const keyStore = adminApi ? gatewayKeyStoreAdmin(config.auth, config.redis) : undefined;
  const admin = config.admin.enabled
    ? buildAdminApp({
        metrics: config.metrics,
        log,
        lifecycle,
        metricsRegistry,
        statistics,
        fleet: registry,
        alerts: firingAlerts,
        budgets: budgetReport,
        overload: overloadFigures,
        internalErrors,
        anomalies: anomaliesReportNow,
        capacity: config.analytics.capacity,
        keysApi: { tokens: config.admin.tokens, store: keyStore, audit: dependencies.audit },
        usageApi: {
          counters: rateLimiter,
          prometheusUrl: config.admin.prometheusUrl,
          currency: config.cost.currency,
        },
        tls: config.admin.tls,
      })
    : undefined;

  const forward = createForwarder({
    router,
    pools,
    upstream: config.upstream,
    routing: config.routing,
    // Rate limits reconcile with the real usage, so they need the tap and usage reads too.
    observeResponses: config.metrics.enabled || rateLimits !== undefined,
    requestStreamUsage: (config.metrics.enabled || rateLimits !== undefined) && config.metrics.requestStreamUsage,
    stripClientCredentials: config.auth.enabled,
    openExchanges,
    internalErrors,
  });
  const checkGuardrails = createGuardrailStage(config.guardrails);
  const controlOverload = overload === undefined ? undefined : createOverloadStage(config.overload, overload);
  overload?.start(internalErrors);
  const proxiedRoute = (endpoint: InferenceEndpoint | undefined, gate?: onRequestHookHandler): RouteShorthandOptions => ({
    onRequest: [...(gate === undefined ? [] : [gate]), ...(authenticateKey === undefined ? [] : [authenticateKey])],
    preHandler: [
      (request, reply, done) => {
        describeInferenceRequest(request, endpoint);
        if (keys !== undefined) authorizeModel(request);
        checkGuardrails?.(request);
        // Before the rate limits: a shed request reserves nothing, a clamped one reserves its new max_tokens.
        const held = controlOverload?.(request, reply);
        if (held === undefined) return done();
        held.then(() => done(), done);
      },
      ...(rateLimits === undefined ? [] : [rateLimits.admit]),
    ],
  });
  for (const endpoint of INFERENCE_ENDPOINTS) app.post(endpoint.path, proxiedRoute(endpoint), forward);
  // Every path without a route of its own lands here; the gate forwards only the allow-listed ones.
  app.all('/*', proxiedRoute(undefined, passthroughGate(config.passthrough.paths)), forward);

  return {
    app,
    admin,
    registry,
    monitor,
    metricsRegistry,
    internalErrors,
    alerts,
    budgets,
    anomalies,
    applyReplicaSet: async (replicas) => {
      const { added, removed } = registry.applyReplicaSet(replicas);
      if (added.length === 0 && removed.length === 0) return;
      log.info({ added: added.map((replica) => replica.name), removed: removed.map((replica) => replica.name) }, 'replica set changed');
      await Promise.all([monitor.look(added), ...removed.map((replica) => pools.retire(replica))]);
    },
    connectStores: async (timeoutMs) => {
      if (rateLimits === undefined || config.rateLimits.store !== 'redis') return;
      if (!(await rateLimits.connect(timeoutMs))) {
        log.warn({ redis: config.redis.url.replace(/\/\/[^@]*@/, '//***@'), policy: config.rateLimits.onStoreError }, 'Redis is not reachable at start: rate limits follow rateLimits.onStoreError until it is');
      }
    },
    startDraining: () => {
      draining = true;
    },
    endOpenExchanges: (timeoutMs) => openExchanges.endAll(timeoutMs),
    close: async () => {
      draining = true;
      monitor.stop();
      overload?.stop();
      alerts?.stop();
      budgets?.stop();
      anomalies?.stop();
      await app.close();
      await Promise.all([pools.close(), rateLimits?.close()]);
      // Last, so the drain's final figures can still be scraped.
      await admin?.close();
      await keyStore?.close();
    },
  };
}
