/**
 * The one place an operator tunes Tollbooth's monitoring: where Prometheus finds the gateway, the
 * replicas and Alertmanager, every alert threshold, and the SLOs. The rule groups (rules.ts), the
 * scrape config (scrape-config.ts), the Grafana dashboards and provisioning (dashboards.ts,
 * grafana-provisioning.ts) and later the Helm chart's PrometheusRule are all generated from it, so
 * a threshold lives in one place.
 */

/** A Prometheus duration such as `5m`, `1h`, `3d`. */
export type PromDuration = `${number}${'s' | 'm' | 'h' | 'd'}`;

export interface ThresholdWithDuration {
  readonly value: number;
  /** How long the condition must hold before the alert fires (the rule's `for:`), against flapping. */
  readonly for: PromDuration;
}

export interface MonitoringConfig {
  /** Prometheus `job` of the gateways' admin listeners and their `host:port` targets. */
  readonly tollbooth: { readonly job: string; readonly targets: readonly string[] };
  /** Prometheus `job` of the vLLM replicas' own `/metrics` and their `host:port` targets. */
  readonly vllm: { readonly job: string; readonly targets: readonly string[] };
  /** Alertmanager `host:port` targets. */
  readonly alertmanagers: readonly string[];
  readonly scrapeInterval: PromDuration;
  readonly evaluationInterval: PromDuration;
  /**
   * The runbook's URL without the `#anchor`; each alert links to `<runbookBaseUrl>#<alert name in
   * lower case>` (GitHub's anchor of the section heading). Point it at wherever your copy of
   * deploy/prometheus/RUNBOOK.md is served.
   */
  readonly runbookBaseUrl: string;
  /**
   * The gateway's `cost.currency` (ISO 4217): the cost panels read `tollbooth_cost_micros_total` of
   * this currency and show it with Grafana's unit `currency<code>` (e.g. currencyUSD, currencyEUR).
   */
  readonly costCurrency: string;
  /** Grafana's data sources: where the provisioned Prometheus and Jaeger data sources point. */
  readonly grafana: { readonly prometheusUrl: string; readonly jaegerUrl: string };
  readonly thresholds: {
    /** The reference's "queue too long": engine waiting requests of one replica. */
    readonly engineQueueWaiting: ThresholdWithDuration;
    /** The reference's "TTFT too high": TTFT p95 of a model, seconds. */
    readonly ttftP95Seconds: ThresholdWithDuration;
    /** The reference's "error rate too high": 5xx / all requests of a model, 0-1. */
    readonly errorRatio: ThresholdWithDuration;
    /** Gateway overhead p99 of one gateway instance, seconds. */
    readonly overheadP99Seconds: ThresholdWithDuration;
    /** How long a replica may be unhealthy or ejected before it is reported. */
    readonly replicaUnavailableFor: PromDuration;
    /** How long every replica of a model may be unavailable before it pages. */
    readonly modelUnavailableFor: PromDuration;
    /** How long the shared rate-limit store may be degraded before it is reported. */
    readonly rateLimitStoreDegradedFor: PromDuration;
    /** The window in which an internal error or a budget refusal is noticed by the alert. */
    readonly counterIncreaseWindow: PromDuration;
    /**
     * Shares of a budget (day or month), 0-1: `nearlySpent` warns early, `spent` says it is gone.
     * They apply to a tenant's budget (the sum of its keys' caps) and to each key's own; the keys'
     * figure is a count per fixed share (KEY_BUDGET_RATIOS in src/ratelimit/budget-report.ts), so
     * both must be one of those shares. The generator refuses any other value.
     */
    readonly budgetSpentRatio: { readonly nearlySpent: number; readonly spent: number; readonly for: PromDuration };
    /** How long a tenant's forecast must say its budget runs out before the period ends before it is reported. */
    readonly budgetRunningOutFor: PromDuration;
    /** Share of one gateway's finished trace spans that failed to export or were dropped (0-1). */
    readonly traceExportFailedRatio: ThresholdWithDuration;
  };
  readonly slo: {
    /** Share of a model's requests that must not end in a 5xx (requests naming no model, such as Prometheus's scrapes, are not counted). */
    readonly availability: { readonly objective: number };
    /**
     * Share of successful streams whose TTFT must be at most `thresholdSeconds`, per model.
     * `thresholdSeconds` must be a boundary of the TTFT histogram's buckets (TTFT_BUCKETS in
     * src/telemetry/metrics/instruments.ts, vLLM's): the good events are read from that bucket's
     * cumulative count, and a value between boundaries has no bucket to read. The generator
     * refuses any other value.
     */
    readonly ttft: { readonly objective: number; readonly thresholdSeconds: number };
    /** The SLO period the burn rates are relative to (informational: the workbook's 30 days). */
    readonly period: PromDuration;
  };
}

/**
 * Defaults: the reference service's three alerts (queue > 5 for 1 m, TTFT p95 > 3 s for 5 m, error
 * rate > 10 % for 5 m), its targets as SLOs (TTFT p95 < 1.0 s: 95 % of streams under 1 s; 99.9 %
 * availability), and the compose file's host names as targets. Override what differs in your stack.
 */
export const DEFAULT_MONITORING_CONFIG: MonitoringConfig = {
  // deploy/compose.yaml's two gateways (their admin listener, 8081 on 0.0.0.0 in deploy/tollbooth.yaml) and three simulators.
  tollbooth: { job: 'tollbooth', targets: ['tollbooth-1:8081', 'tollbooth-2:8081'] },
  vllm: { job: 'vllm', targets: ['vllm-a:8000', 'vllm-b:8000', 'vllm-c:8000'] },
  alertmanagers: ['alertmanager:9093'],
  scrapeInterval: '15s',
  evaluationInterval: '15s',
  runbookBaseUrl: 'https://github.com/tollbooth/tollbooth/blob/main/deploy/prometheus/RUNBOOK.md',
  costCurrency: 'USD',
  grafana: { prometheusUrl: 'http://prometheus:9090', jaegerUrl: 'http://jaeger:16686' },
  thresholds: {
    engineQueueWaiting: { value: 5, for: '1m' },
    ttftP95Seconds: { value: 3, for: '5m' },
    errorRatio: { value: 0.1, for: '5m' },
    // Measured on the shared 2-core development host, 400 sequential streams through a fresh
    // gateway: mean 0.66 ms, 361 under 1 ms, 398 under 5 ms, all under 10 ms. 10 ms at p99 for 10
    // minutes means the process is starved of CPU or blocked, not merely busy.
    overheadP99Seconds: { value: 0.01, for: '10m' },
    replicaUnavailableFor: '1m',
    modelUnavailableFor: '1m',
    rateLimitStoreDegradedFor: '1m',
    counterIncreaseWindow: '10m',
    budgetSpentRatio: { nearlySpent: 0.8, spent: 1, for: '5m' },
    // The forecast is a linear rate over rateLimits.budgetReport.rateWindowMs (1 h by default): a
    // short burst moves it, a quarter of an hour of it is a trend.
    budgetRunningOutFor: '15m',
    // A collector that is down fails every span (ratio 1); a brief blip or a few dropped spans under
    // a burst stay below 5 % or end within the 5 minutes.
    traceExportFailedRatio: { value: 0.05, for: '5m' },
  },
  slo: {
    availability: { objective: 0.999 },
    ttft: { objective: 0.95, thresholdSeconds: 1 },
    period: '30d',
  },
};
