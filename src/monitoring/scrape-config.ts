import type { MonitoringConfig } from './config.js';

/** The generated files, relative to the repository root. */
export const RULES_FILE = 'deploy/prometheus/tollbooth-rules.yaml';
export const PROMETHEUS_FILE = 'deploy/prometheus/prometheus.yaml';

/** Prometheus's configuration for Tollbooth and its vLLM replicas, as data (YAML by src/cli/generate-monitoring.ts). */
export function prometheusConfig(config: MonitoringConfig) {
  return {
    global: { scrape_interval: config.scrapeInterval, evaluation_interval: config.evaluationInterval },
    // Relative to this file: copy both files side by side.
    rule_files: [RULES_FILE.slice(RULES_FILE.lastIndexOf('/') + 1)],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [...config.alertmanagers] }] }] },
    scrape_configs: [
      {
        // The admin listener (admin.port, default 8081; set admin.host: 0.0.0.0 to reach it from
        // another machine): metrics are not served on the API port without credentials. With
        // metrics.bearerToken set, add `authorization: { credentials_file: ... }` here.
        job_name: config.tollbooth.job,
        metrics_path: '/metrics',
        static_configs: [{ targets: [...config.tollbooth.targets] }],
      },
      {
        // vLLM's own engine metrics (vllm:*, label model_name), beside the gateway's.
        job_name: config.vllm.job,
        metrics_path: '/metrics',
        static_configs: [{ targets: [...config.vllm.targets] }],
      },
    ],
  };
}

/** The comment heading the scrape config: what the YAML cannot say. */
export const PROMETHEUS_FILE_HEADER = [
  'Prometheus scraping Tollbooth and its vLLM replicas.',
  'Run Prometheus with --enable-feature=exemplar-storage: the TTFT, upstream TTFT, TPOT, inter-chunk and',
  'end-to-end histograms carry trace ids as exemplars (OpenMetrics exposition, which Prometheus',
  'asks for by default), and without that flag Prometheus drops them.',
];
