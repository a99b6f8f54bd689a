import type { MonitoringConfig } from './config.js';

/** The generated provisioning files, relative to the repository root. */
export const GRAFANA_DATASOURCES_FILE = 'deploy/grafana/provisioning/datasources/tollbooth.yaml';
export const GRAFANA_DASHBOARDS_PROVIDER_FILE = 'deploy/grafana/provisioning/dashboards/tollbooth.yaml';

/** Where the provider reads the dashboards inside Grafana's container: mount deploy/grafana/dashboards there. */
export const GRAFANA_DASHBOARDS_PATH = '/var/lib/grafana/dashboards/tollbooth';

/** The data source uids the dashboards and the exemplar link name. */
export const PROMETHEUS_UID = 'prometheus';
export const JAEGER_UID = 'jaeger';

/**
 * Grafana's data sources: Prometheus, whose exemplar label `trace_id` (what Tollbooth's histograms
 * carry) links to the Jaeger data source, and Jaeger itself.
 */
export function grafanaDatasources(config: MonitoringConfig) {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        type: 'prometheus',
        uid: PROMETHEUS_UID,
        access: 'proxy',
        url: config.grafana.prometheusUrl,
        isDefault: true,
        jsonData: {
          // What the dashboards' $__rate_interval is computed from: keep it equal to Prometheus's.
          timeInterval: config.scrapeInterval,
          exemplarTraceIdDestinations: [{ name: 'trace_id', datasourceUid: JAEGER_UID }],
        },
      },
      { name: 'Jaeger', type: 'jaeger', uid: JAEGER_UID, access: 'proxy', url: config.grafana.jaegerUrl },
    ],
  };
}

/** A file provider loading every dashboard JSON of GRAFANA_DASHBOARDS_PATH into a "Tollbooth" folder. */
export function grafanaDashboardProvider() {
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'tollbooth',
        folder: 'Tollbooth',
        type: 'file',
        disableDeletion: false,
        // The files are generated: edits in the UI would be lost at the next deployment.
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: GRAFANA_DASHBOARDS_PATH, foldersFromFilesStructure: false },
      },
    ],
  };
}
