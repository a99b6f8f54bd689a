import type { Logger } from 'pino';
import type { TollboothConfig } from '../config/schema.js';
import { exitOnSignals, startGateway, type StartOptions } from '../main.js';
import { startSimulator, type RunningSimulator } from '../sim/index.js';
import { DEMO_KEY_POLICY } from './demo-key.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const DEFAULT_DEMO_MODEL = 'tollbooth-sim-model';

/** The demo's simulators and the replicas of the config rewritten to their ports. */
export interface DemoSimulators {
  readonly simulators: RunningSimulator[];
  /** The config's replicas, the loopback ones pointing at their simulator (its port, with freePorts). */
  readonly replicas: TollboothConfig['replicas'][number][];
}

/**
 * One simulated vLLM server for every loopback replica of the config. With `freePorts`, each takes a
 * free port and its replica's URL (and a gpuMetricsUrl on the same origin, its DCGM page) follows.
 */
export async function startDemoSimulators(config: TollboothConfig, options: { readonly freePorts: boolean; readonly otlpTracesEndpoint?: string | undefined }): Promise<DemoSimulators> {
  const { freePorts, otlpTracesEndpoint } = options;
  const simulators: RunningSimulator[] = [];
  const replicas: TollboothConfig['replicas'][number][] = [];
  try {
    for (const replica of config.replicas) {
      const url = new URL(replica.url);
      if (!LOOPBACK_HOSTS.has(url.hostname)) {
        replicas.push(replica);
        continue;
      }
      const simulator = await startSimulator({
        host: url.hostname === '[::1]' ? '::1' : url.hostname,
        port: freePorts ? 0 : Number(url.port || 80),
        models: replica.models === 'auto' ? [DEFAULT_DEMO_MODEL] : [...replica.models],
        ...(replica.apiKey === undefined ? {} : { apiKey: replica.apiKey }),
        ...(otlpTracesEndpoint === undefined ? {} : { otlpTracesEndpoint }),
      });
      simulators.push(simulator);
      if (!freePorts) {
        replicas.push(replica);
        continue;
      }
      const configuredOrigin = url.origin;
      url.port = String(simulator.port);
      // A gpuMetricsUrl on the replica's own origin (the simulator's /dcgm/metrics) follows the port.
      let gpuMetricsUrl = replica.gpuMetricsUrl;
      if (gpuMetricsUrl !== undefined && new URL(gpuMetricsUrl).origin === configuredOrigin) {
        const moved = new URL(gpuMetricsUrl);
        moved.port = url.port;
        gpuMetricsUrl = moved.href;
      }
      // URL.href always ends a bare origin with "/": keep the replica's URL as it was written.
      replicas.push({
        ...replica,
        url: replica.url.endsWith('/') ? url.href : url.href.replace(/\/$/, ''),
        ...(gpuMetricsUrl === undefined ? {} : { gpuMetricsUrl }),
      });
    }
  } catch (error) {
    await Promise.all(simulators.map((simulator) => simulator.close()));
    throw error;
  }
  return { simulators, replicas };
}

/** The banner's lines with the demo key: the export line a client copies. */
export function demoKeyLines(demoKey: string, base: string): string {
  return `  Demo API key (shown once; ${DEMO_KEY_POLICY.limits.tokensPerMinute} tokens and ${DEMO_KEY_POLICY.limits.requestsPerMinute} requests per minute, so a 429 comes quickly):

    export OPENAI_API_KEY=${demoKey} OPENAI_BASE_URL=${base}/v1
`;
}

/**
 * The demo: one simulated vLLM server for every loopback replica of the config (its port, its
 * models), then the gateway in front of them, then a banner with what to try.
 */
export async function runDemo(config: TollboothConfig, log: Logger, options: Pick<StartOptions, 'tracing'> & { readonly demoKey: string | undefined }): Promise<void> {
  const { demoKey } = options;
  // With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), the simulated replicas export their llm_request
  // spans to the same collector, as vLLM started with --otlp-traces-endpoint would: one tree per request.
  const otlpTracesEndpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // TOLLBOOTH_DEMO_FREE_PORTS=1: the simulators take free ports and their replicas' URLs follow
  // (with TOLLBOOTH_PORT=0 for the gateway), so a test can run the demo beside anything else.
  const freePorts = process.env.TOLLBOOTH_DEMO_FREE_PORTS === '1';
  const { simulators, replicas } = await startDemoSimulators(config, { freePorts, otlpTracesEndpoint });
  log.info({ simulators: simulators.map((simulator) => simulator.url) }, 'simulated vLLM replicas are up');

  const running = await startGateway({ ...config, replicas }, log, { tracing: options.tracing });
  exitOnSignals(async (reason) => {
    await running.shutdown(reason);
    await Promise.all(simulators.map((simulator) => simulator.close()));
  }, log);

  const base = running.url.replace('0.0.0.0', '127.0.0.1');
  const admin = running.adminUrl?.replace('0.0.0.0', '127.0.0.1');
  const model = running.gateway.registry.listModels(0)[0]?.id ?? DEFAULT_DEMO_MODEL;
  const auth = config.auth.enabled ? ` -H "Authorization: Bearer $OPENAI_API_KEY"` : '';
  const keyLines =
    demoKey === undefined
      ? config.auth.enabled
        ? '  API keys: the ones you configured (TOLLBOOTH_AUTH_KEYS or the config); export one as OPENAI_API_KEY.\n'
        : '  Auth is OFF in this configuration: any request is served.\n'
      : demoKeyLines(demoKey, base);
  process.stdout.write(`
  Tollbooth is running at ${base}  (in front of ${simulators.length} simulated vLLM replicas)

${keyLines}
    models      curl -s ${base}/v1/models${auth}
${
  admin === undefined
    ? `    readiness   curl -s ${base}/ready
`
    : `    readiness   curl -s ${admin}/ready       (admin listener: replica details)
    metrics     curl -s ${admin}/metrics     curl -s ${admin}/api/v1/metrics
    dashboard   ${admin}/dashboard   (open it in a browser: live figures, charts and alerts)
    watch       node dist/src/cli/tollbooth.js top --url ${admin}
`
}    stream      curl -sN ${base}/v1/chat/completions${auth} -H 'content-type: application/json' \\
                  -d '{"model":"${model}","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'
    limits      curl -si ${base}/v1/chat/completions${auth} -H 'content-type: application/json' \\
                  -d '{"model":"${model}","max_tokens":200,"messages":[{"role":"user","content":"Hi"}]}' | grep -i ratelimit
    OpenAI SDK  reads OPENAI_API_KEY and OPENAI_BASE_URL from the environment

  Ctrl-C drains and stops.

`);
}
