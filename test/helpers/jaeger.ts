import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { acceptsConnections, freePorts } from './free-ports.js';

/**
 * A real Jaeger v2 (memory storage, OTLP receivers, query API) on free loopback ports, for tests
 * and benchmarks that read spans back. The binary is built once from the Go module proxy by
 * test/e2e/jaeger/build-jaeger.sh (npm test runs it first) and cached under ~/.cache/tollbooth.
 * Every instance writes its own config file, so parallel tests never meet on 4317/4318/16686.
 */
export interface Jaeger {
  /** Base of OTLP/HTTP, e.g. http://127.0.0.1:41234: spans go to POST {otlpHttpEndpoint}/v1/traces. */
  readonly otlpHttpEndpoint: string;
  /** OTLP/gRPC, e.g. http://127.0.0.1:41235. */
  readonly otlpGrpcEndpoint: string;
  /** Query API base: GET {queryUrl}/api/v3/traces/{traceId}. */
  readonly queryUrl: string;
  /**
   * The trace as OTLP JSON (the `result` of GET /api/v3/traces/{id}: `{ resourceSpans: [...] }`),
   * polled until it holds at least `minSpans` spans (default 1) or `timeoutMs` (default 10 s) passes.
   */
  trace(traceId: string, opts?: { minSpans?: number; timeoutMs?: number }): Promise<unknown>;
  /** Spans Jaeger's OTLP receivers have accepted so far; needs `selfMetrics: true`. */
  acceptedSpans(): Promise<number>;
  /** The Jaeger process, for benchmarks that account its CPU. */
  readonly pid: number;
  stop(): Promise<void>;
}

export interface JaegerOptions {
  /** Traces kept in memory before the oldest are evicted (default 100 000). */
  readonly maxTraces?: number;
  /** Serve the collector's own Prometheus metrics (on a fifth free port) for `acceptedSpans()`. */
  readonly selfMetrics?: boolean;
}

const BUILD_SCRIPT_RELATIVE = 'test/e2e/jaeger/build-jaeger.sh';
/** The script's "cannot be built here" status (no Go, or a Go too old), as opposed to a failure. */
const CANNOT_BUILD = 3;

/** The repository root: this file runs as test/helpers/jaeger.ts (vitest) or dist/test/helpers/jaeger.js (benchmarks). */
function repositoryRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth += 1) {
    if (existsSync(join(directory, BUILD_SCRIPT_RELATIVE))) return directory;
    directory = resolve(directory, '..');
  }
  throw new Error(`${BUILD_SCRIPT_RELATIVE} not found above ${fileURLToPath(import.meta.url)}`);
}

let binaryLookup: { readonly path: string | undefined } | undefined;

/**
 * The cached Jaeger binary, building it first when it is missing (minutes, once per machine; the
 * script serialises concurrent builds). Undefined, with the reason printed, when it cannot be built.
 */
export function jaegerBinary(): string | undefined {
  if (binaryLookup !== undefined) return binaryLookup.path;
  const script = join(repositoryRoot(), BUILD_SCRIPT_RELATIVE);
  const run = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const path = run.stdout.trim().split('\n').at(-1);
  if (run.status === 0 && path !== undefined && path !== '') {
    binaryLookup = { path };
  } else {
    const reason = run.stderr.trim() || run.error?.message || `exit status ${String(run.status)}`;
    console.warn(`Jaeger is unavailable (${run.status === CANNOT_BUILD ? 'cannot be built here' : 'build failed'}): ${reason}`);
    binaryLookup = { path: undefined };
  }
  return binaryLookup.path;
}

interface JaegerPorts {
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
  readonly queryHttp: number;
  readonly queryGrpc: number;
  /** The collector's own metrics; undefined: not served. */
  readonly selfMetrics: number | undefined;
}

/** Collector-style YAML (JSON is YAML): memory storage, OTLP in, query out, no processor so spans are queryable at once, no self-telemetry port. */
function configText(ports: JaegerPorts, maxTraces: number): string {
  const config = {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query'],
      pipelines: { traces: { receivers: ['otlp'], exporters: ['jaeger_storage_exporter'] } },
      telemetry: {
        metrics:
          ports.selfMetrics === undefined
            ? { level: 'none' }
            : { level: 'basic', readers: [{ pull: { exporter: { prometheus: { host: '127.0.0.1', port: ports.selfMetrics } } } }] },
        logs: { level: 'warn' },
      },
    },
    extensions: {
      jaeger_storage: { backends: { memstore: { memory: { max_traces: maxTraces } } } },
      jaeger_query: {
        storage: { traces: 'memstore' },
        http: { endpoint: `127.0.0.1:${ports.queryHttp}` },
        grpc: { endpoint: `127.0.0.1:${ports.queryGrpc}` },
      },
    },
    receivers: {
      otlp: {
        protocols: {
          grpc: { endpoint: `127.0.0.1:${ports.otlpGrpc}` },
          http: { endpoint: `127.0.0.1:${ports.otlpHttp}` },
        },
      },
    },
    exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
  };
  return JSON.stringify(config, null, 2);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

async function halt(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited(child);
  clearTimeout(killer);
}

/** Starts Jaeger; resolves once all its ports accept connections, or rejects with its log. */
async function launch(binary: string, ports: JaegerPorts, maxTraces: number, directory: string): Promise<ChildProcess> {
  const configFile = join(directory, 'jaeger.yaml');
  writeFileSync(configFile, configText(ports, maxTraces));
  const child = spawn(binary, ['--config', `file:${configFile}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    // The tail is what explains a failed start; a long-lived instance must not grow it forever.
    log = (log + text).slice(-8_000);
  });
  const spawnError = new Promise<Error>((done) => child.once('error', done));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const listening = [ports.otlpGrpc, ports.otlpHttp, ports.queryHttp, ports.queryGrpc, ...(ports.selfMetrics === undefined ? [] : [ports.selfMetrics])];
    const ready = await Promise.all(listening.map(acceptsConnections));
    if (ready.every(Boolean)) return child;
    const failure = await Promise.race([spawnError, new Promise<undefined>((done) => setTimeout(done, 50, undefined))]);
    if (failure !== undefined || child.exitCode !== null || Date.now() > deadline) {
      await halt(child);
      throw new Error(`Jaeger did not start (${failure?.message ?? `exit ${String(child.exitCode)}`}):\n${log}`);
    }
  }
}

function spanCount(document: unknown): number {
  const resourceSpans = (document as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] } | null)?.resourceSpans ?? [];
  let count = 0;
  for (const resource of resourceSpans) for (const scope of resource.scopeSpans ?? []) count += scope.spans?.length ?? 0;
  return count;
}

export async function startJaeger(options: JaegerOptions = {}): Promise<Jaeger> {
  const binary = jaegerBinary();
  if (binary === undefined) throw new Error('Jaeger is unavailable here; see the reason printed above');
  const maxTraces = options.maxTraces ?? 100_000;
  const directory = mkdtempSync(join(tmpdir(), 'tollbooth-jaeger-'));
  let child: ChildProcess | undefined;
  let ports: JaegerPorts | undefined;
  // A port chosen as free can be taken by another process before Jaeger binds it: try again.
  for (let attempt = 1; child === undefined; attempt += 1) {
    const [otlpGrpc, otlpHttp, queryHttp, queryGrpc, selfMetrics] = (await freePorts(options.selfMetrics === true ? 5 : 4)) as [number, number, number, number, number | undefined];
    ports = { otlpGrpc, otlpHttp, queryHttp, queryGrpc, selfMetrics };
    try {
      child = await launch(binary, ports, maxTraces, directory);
    } catch (error) {
      if (attempt >= 3) {
        rmSync(directory, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const running = child;
  const { otlpGrpc, otlpHttp, queryHttp, selfMetrics } = ports as JaegerPorts;
  const queryUrl = `http://127.0.0.1:${queryHttp}`;

  return {
    otlpHttpEndpoint: `http://127.0.0.1:${otlpHttp}`,
    otlpGrpcEndpoint: `http://127.0.0.1:${otlpGrpc}`,
    queryUrl,
    trace: async (traceId, opts = {}) => {
      const minSpans = opts.minSpans ?? 1;
      const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
      let seen = 0;
      let lastStatus = 0;
      for (;;) {
        const response = await fetch(`${queryUrl}/api/v3/traces/${encodeURIComponent(traceId)}`);
        lastStatus = response.status;
        if (response.status === 200) {
          const body = (await response.json()) as { result?: unknown };
          seen = spanCount(body.result);
          if (seen >= minSpans) return body.result;
        } else {
          await response.body?.cancel();
        }
        if (Date.now() > deadline) {
          throw new Error(`trace ${traceId}: ${seen} span(s) in Jaeger, wanted ${minSpans} (last status ${lastStatus})`);
        }
        await new Promise((wake) => setTimeout(wake, 50));
      }
    },
    acceptedSpans: async () => {
      if (selfMetrics === undefined) throw new Error('acceptedSpans() needs startJaeger({ selfMetrics: true })');
      const text = await (await fetch(`http://127.0.0.1:${selfMetrics}/metrics`)).text();
      let total = 0;
      for (const match of text.matchAll(/^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*\} (\S+)$/gm)) total += Number(match[1]);
      return total;
    },
    pid: running.pid as number,
    stop: async () => {
      await halt(running);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
