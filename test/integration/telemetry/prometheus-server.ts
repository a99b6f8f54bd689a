import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { MonitoringConfig } from '../../../src/monitoring/config.js';
import { renderMonitoringFiles } from '../../../src/cli/generate-monitoring.js';
import { RULES_FILE, prometheusConfig } from '../../../src/monitoring/scrape-config.js';
import { freePort } from '../../helpers/free-ports.js';

/**
 * A real Prometheus server (Debian's `prometheus` package, which `npm test` installs with
 * promtool) with exemplar storage on, scraping one target every second on a free loopback port:
 * the proof that what /metrics says in OpenMetrics is what Prometheus stores, exemplars included.
 */
export interface PrometheusServer {
  readonly url: string;
  /** GET on the HTTP API (`/api/v1/...`), its `data` once the status is success. */
  api<T>(path: string, parameters?: Record<string, string>): Promise<T>;
  /** Resolves when the target has been scraped successfully; rejects with the scrape error after the timeout. */
  targetUp(timeoutMs?: number): Promise<TargetState>;
  /** Everything Prometheus wrote to stderr (its log), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface TargetState {
  readonly health: string;
  readonly lastError: string;
  readonly lastScrape: string;
  readonly scrapeUrl: string;
}

export interface ExemplarSeries {
  readonly seriesLabels: Record<string, string>;
  readonly exemplars: ReadonlyArray<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

export async function startPrometheus(target: { url: string; bearerToken?: string }): Promise<PrometheusServer> {
  return startPrometheusWithConfig({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1m' },
    scrape_configs: [
      {
        job_name: 'tollbooth',
        ...(target.bearerToken === undefined ? {} : { authorization: { type: 'Bearer', credentials: target.bearerToken } }),
        static_configs: [{ targets: [new URL(target.url).host] }],
      },
    ],
  });
}

/**
 * The same server with any configuration, and `files` (name → text, e.g. rule files the config
 * names) written beside it, so relative `rule_files` resolve as they do next to a real config.
 * `tsdbPath`: an existing TSDB (e.g. blocks backfilled with promtool) instead of a fresh one; it
 * is kept for its owner to remove. `retention`: --storage.tsdb.retention.time (backfilled history).
 */
export async function startPrometheusWithConfig(
  configuration: object,
  files: Readonly<Record<string, string>> = {},
  storage: { readonly tsdbPath?: string; readonly retention?: string } = {},
): Promise<PrometheusServer> {
  const directory = mkdtempSync(join(tmpdir(), 'tollbooth-prometheus-'));
  const port = await freePort();
  const config = join(directory, 'prometheus.yml');
  writeFileSync(config, stringify(configuration));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(directory, name), text);
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${storage.tsdbPath ?? join(directory, 'data')}`,
      ...(storage.retention === undefined ? [] : [`--storage.tsdb.retention.time=${storage.retention}`]),
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
      '--log.level=debug',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const spawnFailure = new Promise<never>((_resolve, reject) =>
    child.once('error', (error) => reject(new Error(`prometheus could not start (npm test installs it): ${error.message}`))),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    await Promise.race([spawnFailure, ready(url, child, () => log)]);
  } catch (error) {
    await stop();
    throw error;
  }

  const api = async <T>(path: string, parameters: Record<string, string> = {}): Promise<T> => {
    const response = await fetch(`${url}${path}?${new URLSearchParams(parameters).toString()}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };
  return {
    url,
    api,
    targetUp: async (timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { activeTargets } = await api<{ activeTargets: TargetState[] }>('/api/v1/targets');
        const state = activeTargets[0];
        if (state !== undefined && state.health === 'up') return state;
        if (Date.now() > deadline) throw new Error(`the target was not scraped successfully: ${JSON.stringify(state)}`);
        await new Promise((wake) => setTimeout(wake, 200));
      }
    },
    log: () => log,
    stop,
  };
}

/**
 * The server with the scrape config and rules generated from `config` by the mixin itself
 * (prometheusConfig, renderMonitoringFiles): the rules under test are the shipped ones with the
 * test's figures. The scrape timeout is the scrape interval (the generated config keeps
 * Prometheus's default 10 s, which may not exceed a shorter interval).
 */
export async function startGeneratedPrometheus(config: MonitoringConfig): Promise<PrometheusServer> {
  const generated = prometheusConfig(config);
  const scrapeConfig = { ...generated, global: { ...generated.global, scrape_timeout: config.scrapeInterval } };
  return startPrometheusWithConfig(scrapeConfig, { [generated.rule_files[0]!]: renderMonitoringFiles(config).get(RULES_FILE)! });
}

/** Resolves once Prometheus has `count` active targets, all up; throws with their states after the timeout. */
export async function allTargetsUp(prometheus: PrometheusServer, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { activeTargets } = await prometheus.api<{ activeTargets: Array<{ health: string; scrapeUrl: string; lastError: string }> }>('/api/v1/targets');
    if (activeTargets.length === count && activeTargets.every((target) => target.health === 'up')) return;
    if (Date.now() > deadline) throw new Error(`targets not up: ${JSON.stringify(activeTargets)}`);
    await new Promise((wake) => setTimeout(wake, 200));
  }
}

async function ready(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log()}`);
    const ok = await fetch(`${url}/-/ready`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`prometheus was not ready in time:\n${log()}`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
