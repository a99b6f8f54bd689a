import type { Logger } from 'pino';
import { buildGateway, type Gateway } from './app.js';
import { adminSurfaceWarnings } from './admin/surface.js';
import { startKeyRing } from './auth/key-sources.js';
import { openAuditLog, type AuditLog } from './telemetry/audit-log.js';
import type { TollboothConfig } from './config/schema.js';
import { watchConfigFile } from './config/watch.js';
import { DnsDiscovery, systemResolver, type DiscoveryResolver } from './routing/dns-discovery.js';
import { InternalErrors } from './errors/internal-errors.js';
import { flushLogs } from './telemetry/logger.js';
import type { TracingRuntime } from './telemetry/tracing/sdk.js';

/** How long a start waits for Redis before serving under the rate limits' failure policy. */
const STORE_CONNECT_TIMEOUT_MS = 3_000;
/**
 * At the drain deadline, how long the responses the gateway ended get to reach their clients
 * (and their telemetry to run) before the remaining sockets are destroyed.
 */
const DRAIN_END_TIMEOUT_MS = 2_000;
/** While draining, how often connections that have become idle are closed. */
const IDLE_SWEEP_INTERVAL_MS = 100;

export interface RunningGateway {
  readonly gateway: Gateway;
  /** The address the gateway listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** The admin listener's address (metrics, readiness details), e.g. http://127.0.0.1:8081; undefined when disabled. */
  readonly adminUrl: string | undefined;
  /** Stop accepting, let in-flight requests finish up to the drain timeout, then close everything. */
  shutdown(reason: string): Promise<void>;
}

export interface StartOptions {
  /** The file the configuration came from: watched, and reloaded on change or SIGHUP. */
  readonly configFile?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** DNS look-ups for `discovery` entries without `servers` (the system resolver unless a test brings its own). */
  readonly resolver?: DiscoveryResolver;
  /** The tracing SDK started by the CLI: its queued spans are exported when the drain ends. */
  readonly tracing?: TracingRuntime;
}

/** Builds the gateway, takes a first look at the fleet, and listens. */
export async function startGateway(config: TollboothConfig, log: Logger, options: StartOptions = {}): Promise<RunningGateway> {
  // Made before the key ring, whose reloads it guards; the gateway adds its counter.
  const internalErrors = new InternalErrors(log);
  const keys = config.auth.enabled
    ? await startKeyRing({ auth: config.auth, redis: config.redis, log: log.child({ component: 'auth' }), internalErrors })
    : undefined;
  if (keys === undefined) {
    log.warn(
      { auth: 'disabled' },
      'AUTH IS DISABLED: every request is served without an API key and without rate limits. Use this for local demos only; set auth.enabled: true and add keys before exposing the gateway.',
    );
  }
  let audit: AuditLog | undefined;
  let gateway: Gateway;
  try {
    audit = config.logging.audit === undefined ? undefined : await openAuditLog(config.logging.audit, (error) => internalErrors.report('audit_log', error));
    gateway = buildGateway(config, log, { keys: keys?.ring, internalErrors, audit });
  } catch (error) {
    await Promise.all([keys?.stop(), audit?.close()]);
    throw error;
  }
  // Evaluated only while the gateway serves; close() stops it.
  gateway.alerts?.start();
  gateway.anomalies?.start();
  // The fleet is the configured replicas plus those found in DNS; either side can change alone.
  let staticReplicas = config.replicas;
  const discovery =
    config.discovery.length === 0
      ? undefined
      : new DnsDiscovery(config.discovery, options.resolver ?? systemResolver, log.child({ component: 'discovery' }), (found) =>
          gateway.applyReplicaSet([...staticReplicas, ...found]),
          internalErrors,
        );
  await discovery?.start();
  await Promise.all([gateway.monitor.start(), gateway.connectStores(STORE_CONNECT_TIMEOUT_MS)]);
  gateway.budgets?.start();
  const address = await gateway.app.listen({ host: config.server.host, port: config.server.port });
  let adminUrl: string | undefined;
  try {
    adminUrl = await gateway.admin?.listen({ host: config.admin.host, port: config.admin.port });
  } catch (error) {
    discovery?.stop();
    await gateway.close();
    await Promise.all([keys?.stop(), audit?.close()]);
    throw error;
  }
  for (const warning of adminSurfaceWarnings(config)) log.warn({ admin: 'disabled' }, warning);
  log.info({ url: address, admin_url: adminUrl ?? null, replicas: gateway.registry.replicas.map((replica) => `${replica.name} (${replica.health})`) }, 'tollbooth is listening');

  const watcher =
    options.configFile === undefined
      ? undefined
      : watchConfigFile(options.configFile, options.env ?? process.env, log, async (next) => {
          staticReplicas = next.replicas;
          await gateway.applyReplicaSet([...next.replicas, ...(discovery?.discovered ?? [])]);
          keys?.applyConfig(next.auth);
          const needRestart = (Object.keys(next) as Array<keyof TollboothConfig>).filter((section) =>
            section === 'auth'
              ? JSON.stringify({ ...next.auth, keys: [] }) !== JSON.stringify({ ...config.auth, keys: [] })
              : section !== 'replicas' && JSON.stringify(next[section]) !== JSON.stringify(config[section]),
          );
          if (needRestart.length > 0) log.warn({ sections: needRestart }, 'a reload applies the replica list and inline API keys only; restart to apply these sections');
        }, internalErrors);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    watcher?.stop();
    discovery?.stop();
    shuttingDown ??= drain(gateway, config.server.drainTimeoutMs, log, reason).finally(() => Promise.all([keys?.stop(), options.tracing?.shutdown(), audit?.close()]));
    return shuttingDown;
  };
  return { gateway, url: address, adminUrl, shutdown };
}

async function drain(gateway: Gateway, drainTimeoutMs: number, log: Logger, reason: string): Promise<void> {
  log.info({ reason, drain_timeout_ms: drainTimeoutMs }, 'draining: no new connections, in-flight requests may finish');
  gateway.startDraining();
  // Closing the server closes the connections idle at that moment; a keep-alive connection whose
  // response ends later would stay open (a load balancer's pool keeps it) and hold the drain until
  // its deadline. Sweep them as they become idle; a request racing the sweep sees a closed
  // connection before any response byte, which clients and load balancers retry elsewhere.
  const idleSweep = setInterval(() => gateway.app.server.closeIdleConnections(), IDLE_SWEEP_INTERVAL_MS);
  idleSweep.unref();
  let ending: Promise<void> | undefined;
  const deadline = setTimeout(() => {
    log.warn('drain timeout reached: ending the open responses, then closing the remaining connections');
    ending = gateway
      .endOpenExchanges(DRAIN_END_TIMEOUT_MS)
      .then(
        (ended) => {
          if (ended > 0) log.warn({ drained: ended }, 'drain: ended the open responses (outcome drained)');
        },
        // Nothing awaits this promise until the server has closed: a rejection must not end the process first.
        (error: unknown) => gateway.internalErrors.report('drain', error),
      )
      .finally(() => gateway.app.server.closeAllConnections());
  }, drainTimeoutMs);
  deadline.unref();
  try {
    await gateway.close();
    // Their access lines and settlements are written before "stopped" and the exit.
    await ending;
  } finally {
    clearTimeout(deadline);
    clearInterval(idleSweep);
  }
  log.info('tollbooth stopped');
}

/** SIGTERM/SIGINT drain once and exit 0; a second signal exits at once. */
export function exitOnSignals(shutdown: (reason: string) => Promise<void>, log: Logger): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    received = true;
    shutdown(signal).then(
      () => flushLogs(log).then(() => process.exit(0)),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        void flushLogs(log).then(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
