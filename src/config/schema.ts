import { isIP, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { guardrailsConfigSchema } from '../guardrails/config.js';
import { adminTlsSchema } from '../admin/tls.js';
import { alertsConfigSchema } from '../alerts/config.js';
import { anomalyConfigSchema } from '../analytics/anomaly/config.js';
import { capacityConfigSchema } from '../analytics/capacity/config.js';
import { reportConfigSchema } from '../analytics/report/config.js';
import { authConfigSchema } from '../auth/config.js';
import { nanosPerToken } from '../cost/cost.js';
import { overloadConfigSchema } from '../overload/config.js';
import { passthroughConfigSchema } from '../proxy/passthrough.js';
import { rateLimitConfigSchema } from '../ratelimit/config.js';
import { redisConfigSchema } from '../redis/config.js';
import { tracingConfigSchema } from '../telemetry/tracing/config.js';

/**
 * The one definition of Tollbooth's configuration. The TypeScript type is derived from it, so
 * the file, the environment overrides and the code can never disagree about a field.
 * Durations are milliseconds and sizes are bytes; the unit is in every name.
 */

const positiveMs = z.number().int().positive();

const replicaSchema = z
  .object({
    /** Label used in logs, metrics and headers; defaults to host:port of the URL. */
    name: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'use 1-64 letters, digits, ".", "_", ":" or "-"').optional(),
    /** Base URL of the vLLM OpenAI server, without the /v1 suffix. */
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .refine((value) => {
        // An unparsable URL is already reported by the check above; only judge the path here.
        const path = URL.canParse(value) ? new URL(value).pathname : '/';
        return path === '/' || path === '';
      }, 'must not have a path: give the server root, e.g. http://10.0.0.5:8000'),
    /** The models this replica serves, or "auto" to learn them from its GET /v1/models. */
    models: z.union([z.literal('auto'), z.array(z.string().min(1)).min(1)]),
    /** Sent as "Authorization: Bearer …" to a replica started with vLLM's --api-key. */
    apiKey: z.string().min(1).optional(),
    /**
     * The replica's GPU figures: a Prometheus text endpoint with DCGM_FI_DEV_FB_USED,
     * DCGM_FI_DEV_FB_FREE and DCGM_FI_DEV_GPU_UTIL (NVIDIA's DCGM exporter, or the simulator's
     * /dcgm/metrics), full URL with its path. Scraped with the engine stats; no bearer token is sent.
     */
    gpuMetricsUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  })
  .strict();

/** A DNS server as c-ares takes it (dns.Resolver#setServers): an IP address, optionally with a port (IPv6 in brackets then). */
function isDnsServerAddress(address: string): boolean {
  if (isIP(address) !== 0) return true;
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address);
  const withPort = bracketed ?? /^([^:]+):(\d{1,5})$/.exec(address);
  if (withPort === null) return false;
  const port = Number(withPort[2]);
  return port >= 1 && port <= 65535 && (bracketed === null ? isIPv4(withPort[1]!) : isIPv6(withPort[1]!));
}
const dnsServerAddress = z.string().refine(isDnsServerAddress, 'an IP address, optionally with a port: 10.96.0.10, 127.0.0.1:8600, fd00::a or [fd00::a]:53');

const discoverySchema = z
  .object({
    /**
     * A name whose A/AAAA records are the replicas (system resolver, so /etc/hosts and cluster DNS
     * apply; with `servers`, asked of those servers instead).
     */
    dns: z.string().min(1).optional(),
    /** An SRV record name (e.g. _http._tcp.vllm.ns.svc.cluster.local): targets and ports from the record. */
    srv: z.string().min(1).optional(),
    /** Port of the replicas found by `dns` (SRV records carry their own). */
    port: z.number().int().min(1).max(65535).default(8000),
    scheme: z.enum(['http', 'https']).default('http'),
    /** Only IPv4 (4) or IPv6 (6) addresses of a `dns` name; both by default. */
    family: z.union([z.literal(4), z.literal(6)]).optional(),
    models: z.union([z.literal('auto'), z.array(z.string().min(1)).min(1)]).default('auto'),
    apiKey: z.string().min(1).optional(),
    refreshIntervalMs: positiveMs.default(10_000),
    /**
     * DNS servers to ask instead of the system resolver (e.g. Consul's DNS interface
     * 127.0.0.1:8600, or a cluster DNS the host's resolv.conf does not name): IP addresses,
     * optionally with a port (`10.96.0.10`, `127.0.0.1:8600`, `[fd00::a]:53`). /etc/hosts is then
     * not read; SRV targets are still connected to by name, through the system resolver.
     */
    servers: z.array(dnsServerAddress).min(1).optional(),
  })
  .strict()
  .refine((entry) => (entry.dns === undefined) !== (entry.srv === undefined), 'give exactly one of dns or srv');

/** A price per million tokens, in currency units; three decimals make it exact in nano-units per token. */
const pricePerMillion = z
  .number()
  .nonnegative()
  .refine((price) => nanosPerToken(price) !== undefined, 'use at most 3 decimals (the price is per million tokens)');

const tokenPriceSchema = z
  .object({
    input: pricePerMillion,
    /** Input tokens served from the prefix cache; defaults to the input price. */
    cachedInput: pricePerMillion.optional(),
    output: pricePerMillion,
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        /**
         * Listen address of the API: 0.0.0.0 (every interface) by default, because clients reach it over
         * the network (a container's published port needs it); the metrics and replica details are on `admin`.
         */
        host: z.string().min(1).default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Largest request body accepted (OpenAI's own upload limit is 25 MB). */
        bodyLimitBytes: z.number().int().positive().default(25 * 1024 * 1024),
        /** On SIGTERM: how long in-flight requests and streams may run before they are cut. */
        drainTimeoutMs: positiveMs.default(30_000),
        /** Idle keep-alive timeout of client connections; above typical load balancer idle timeouts. */
        keepAliveTimeoutMs: positiveMs.default(65_000),
        /** Time a client has to send a request's headers; a connection that sends nothing is closed after it too. */
        headersTimeoutMs: positiveMs.default(30_000),
        /**
         * Longest silence while a request body is being read (408, then the connection closes). Not
         * applied once the body is in: a client waiting minutes for a streamed answer is fine.
         */
        bodyIdleTimeoutMs: positiveMs.default(30_000),
        /**
         * Deadline for the whole request (headers and body) to arrive; the response is not limited.
         * 10 minutes: a 25 MiB upload (bodyLimitBytes) over a 0.5 Mbit/s link takes about 7.
         */
        requestTimeoutMs: positiveMs.default(600_000),
        /**
         * Open client connections; one beyond it is closed as soon as it is accepted, before any
         * byte is read. Keep it below the process's file-descriptor limit (ulimit -n).
         */
        maxConnections: z.number().int().positive().default(10_000),
      })
      .strict()
      .refine((server) => server.headersTimeoutMs <= server.requestTimeoutMs, {
        path: ['headersTimeoutMs'],
        message: 'must not exceed server.requestTimeoutMs (the headers are part of the request)',
      })
      .prefault({}),
    /**
     * The admin listener (as envoy's admin port): /metrics, /metrics/prometheus, /api/v1/*, /ready with
     * replica details, /health. Loopback by default, so the per-tenant figures stay off the network;
     * on the API port those endpoints exist only behind the metrics credentials.
     */
    admin: z
      .object({
        /** Serve the admin listener; false leaves the metrics reachable only on the API port with credentials. */
        enabled: z.boolean().default(true),
        /** Listen address; 127.0.0.1 keeps it on the machine (use 0.0.0.0 for a scraper on the network). */
        host: z.string().min(1).default('127.0.0.1'),
        /** Listen port, never the API port (9090 is left to Prometheus itself); 0 takes a free one. */
        port: z.number().int().min(0).max(65535).default(8081),
        /**
         * Who may use the admin API (keys, usage): `Authorization: Bearer <token>`. Each token has an
         * id, which the log names for every change it makes. None (the default) and no client CA
         * (admin.tls.ca): the admin API is off.
         */
        tokens: z
          .array(
            z
              .object({
                id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1-64 letters, digits, ".", "_" or "-"'),
                token: z.string().min(32, 'use at least 32 characters (e.g. openssl rand -base64 32)'),
              })
              .strict(),
          )
          .default([])
          .superRefine((tokens, context) => {
            const ids = new Set<string>();
            const secrets = new Set<string>();
            tokens.forEach(({ id, token }, index) => {
              if (ids.has(id)) context.addIssue({ code: 'custom', path: [index, 'id'], message: `the id "${id}" is used by more than one admin token` });
              if (secrets.has(token)) context.addIssue({ code: 'custom', path: [index, 'token'], message: 'the same token is given twice' });
              ids.add(id);
              secrets.add(token);
            });
          }),
        /** HTTPS for the admin listener, and with `ca` mutual TLS: a verified client certificate authorises the admin API (src/admin/tls.ts). */
        tls: adminTlsSchema.optional(),
        /** A Prometheus that scrapes the gateways: GET /api/v1/usage?source=prometheus reads usage per tenant and model from it. */
        prometheusUrl: z.url({ protocol: /^https?$/ }).optional(),
      })
      .strict()
      .prefault({}),
    upstream: z
      .object({
        connectTimeoutMs: positiveMs.default(5_000),
        /**
         * Time allowed from dispatch until the replica's first response body byte (default 5 min):
         * covers vLLM queueing whether the replica sends its headers before it queues (streams) or
         * after. 504 upstream_timeout, or an in-band error once a stream's headers went out.
         */
        headersTimeoutMs: positiveMs.default(300_000),
        /** Longest silence allowed between two body chunks of a response. */
        bodyIdleTimeoutMs: positiveMs.default(300_000),
        /** Maximum open connections to each replica (one request per connection, no pipelining). */
        connectionsPerReplica: z.number().int().positive().default(1024),
        keepAliveTimeoutMs: positiveMs.default(60_000),
        /** Error bodies from replicas are read up to this size to be normalised; past it the upstream request is aborted, unread. */
        errorBodyLimitBytes: z.number().int().positive().default(64 * 1024),
      })
      .strict()
      .prefault({}),
    replicas: z.array(replicaSchema).default([]),
    /** Replicas found in DNS, re-resolved on an interval (a Kubernetes headless service, an SRV record). */
    discovery: z.array(discoverySchema).default([]),
    /** The paths without an explicit route that are forwarded to a replica (src/proxy/passthrough.ts). */
    passthrough: passthroughConfigSchema.prefault({}),
    routing: z
      .object({
        /**
         * session: consistent hashing of the session key with bounded load (keyless requests go to
         * the less loaded of two random replicas); least-loaded: that choice for every request;
         * round-robin: rotate.
         */
        strategy: z.enum(['session', 'least-loaded', 'round-robin']).default('session'),
        /** A replica takes a session's request only while its load stays within capacityFactor × the average. */
        capacityFactor: z.number().min(1).max(10).default(1.25),
        /** Points per replica on the hash ring: more spread keys more evenly. */
        virtualNodes: z.number().int().min(1).max(1000).default(100),
        sessionKey: z
          .object({
            /** Request header carrying the session id; null to ignore headers. */
            header: z
              .string()
              .regex(/^[A-Za-z0-9-]+$/, 'a header name')
              .transform((name) => name.toLowerCase())
              .nullable()
              .default('x-session-id'),
            /** Body fields that name a conversation, tried in this order after the header. */
            bodyFields: z.array(z.enum(['prompt_cache_key', 'user'])).default(['prompt_cache_key', 'user']),
            /** Without a session id, requests sharing this many leading characters of their prompt share a key; 0 disables. */
            prefixCharacters: z.number().int().min(0).default(1024),
          })
          .strict()
          .prefault({}),
        /** Replicas tried for one request when a replica fails before answering (connect refused, reset). */
        maxAttempts: z.number().int().min(1).max(10).default(3),
        /** Name the serving replica in an x-tollbooth-replica response header. */
        replicaHeader: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    health: z
      .object({
        /** Active GET /health probe of every replica. */
        probeIntervalMs: positiveMs.default(5_000),
        probeTimeoutMs: positiveMs.default(2_000),
        /** How often GET /v1/models is read from each replica (model lists and metadata). */
        modelRefreshIntervalMs: positiveMs.default(30_000),
        /** How often each replica's GET /metrics is read for its queue and KV-cache figures. */
        engineStatsIntervalMs: positiveMs.default(5_000),
        /** Engine figures older than this no longer steer traffic (nor are re-exported). */
        engineStatsMaxAgeMs: positiveMs.default(15_000),
        /** Passive ejection: consecutive failures (connect errors, resets, 5xx) that open a replica's circuit. */
        ejectAfterFailures: z.number().int().min(1).default(5),
        /** First ejection time; doubles on each consecutive ejection up to maxEjectionMs. */
        baseEjectionMs: positiveMs.default(5_000),
        maxEjectionMs: positiveMs.default(60_000),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /**
         * Token timing and usage: the stream tap, usage reads, GET /metrics (Prometheus) and
         * GET /api/v1/metrics (JSON). Off, the gateway is a plain proxy and the access log keeps
         * only status, bytes and durations.
         */
        enabled: z.boolean().default(true),
        /** When set, both endpoints require `Authorization: Bearer <token>`. */
        bearerToken: z.string().min(16, 'use at least 16 characters').optional(),
        /** When set, both endpoints accept HTTP basic auth with these credentials. */
        basicAuth: z.object({ username: z.string().min(1), password: z.string().min(8) }).strict().optional(),
        /** Sliding window of the JSON API. */
        windowMs: positiveMs.default(300_000),
        /** The window's slot: its granularity, and the series step of the anomaly detectors (analytics.anomaly). */
        slotMs: positiveMs.default(10_000),
        /**
         * Ask vLLM for the usage frame of streams whose client did not (stream_options.include_usage)
         * and remove it before it reaches the client: exact token counts for every stream.
         */
        requestStreamUsage: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    cost: z
      .object({
        currency: z.string().regex(/^[A-Z]{3}$/, 'use an ISO 4217 code such as USD').default('USD'),
        /** Token prices per model, per million tokens. A request of a priced model is charged by tokens. */
        tokenPrices: z.record(z.string().min(1), tokenPriceSchema).default({}),
        /**
         * Price per hour of a replica (by replica name): a request of an unpriced model is charged its
         * share of the replica's busy time (busy time divided among the requests in flight).
         */
        replicaHourly: z.record(z.string().min(1), z.number().nonnegative()).default({}),
      })
      .strict()
      .prefault({}),
    /** API keys and their policies (src/auth/). */
    auth: authConfigSchema,
    /** Token buckets, concurrency and budgets per key, tenant and model (src/ratelimit/). */
    rateLimits: rateLimitConfigSchema.prefault({}),
    /** The Redis server shared by the rate limits and the key store when either uses it. */
    redis: redisConfigSchema.prefault({}),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** One JSON line per request. */
        accessLog: z.boolean().default(true),
        /**
         * The audit log (src/telemetry/audit-log.ts): who did what, one JSON line per API request
         * and per admin change, never a key or a prompt, in its own size-rotated files. Absent: off.
         */
        audit: z
          .object({
            /** e.g. /var/log/tollbooth/audit.log, written as audit.1.log, audit.2.log, … (current.log links to the one in use). */
            file: z.string().min(1),
            /** Rotate once a file holds this many bytes (default 100 MiB). */
            maxBytes: z.number().int().min(4096).default(100 * 1024 * 1024),
            /** Rotated files kept besides the current one. */
            keepFiles: z.number().int().min(1).max(1000).default(10),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    tracing: tracingConfigSchema,
    /** Built-in alerts over the JSON's window (src/alerts/): the reference's three by default. */
    alerts: alertsConfigSchema.prefault({}),
    /** Analytics over the statistics (src/analytics/). */
    analytics: z
      .object({
        /** Online anomaly detection per model and replica (src/analytics/anomaly/). */
        anomaly: anomalyConfigSchema.prefault({}),
        /** Capacity planning, GET /api/v1/capacity (src/analytics/capacity/). */
        capacity: capacityConfigSchema.prefault({}),
        /** The objectives and ROI assumption of `tollbooth report` (src/analytics/report/). */
        report: reportConfigSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    /** Opt-in input checks and PII masking (src/guardrails/); all off by default. */
    guardrails: guardrailsConfigSchema.prefault({}),
    /** Overload control per model with priority classes (src/overload/); off by default. */
    overload: overloadConfigSchema.prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    if (config.replicas.length === 0 && config.discovery.length === 0) {
      context.addIssue({ code: 'custom', path: ['replicas'], message: 'list at least one replica, or a discovery entry' });
    }
    if (config.metrics.windowMs % config.metrics.slotMs !== 0) {
      context.addIssue({ code: 'custom', path: ['metrics', 'windowMs'], message: `must be a whole multiple of metrics.slotMs (${config.metrics.slotMs})` });
    }
    if (config.admin.enabled && config.admin.port !== 0 && config.admin.port === config.server.port) {
      context.addIssue({ code: 'custom', path: ['admin', 'port'], message: `the admin listener cannot share the API port ${config.server.port}: choose another port` });
    }
    const seen = new Map<string, number>();
    config.replicas.forEach((replica, index) => {
      if (replica.name === undefined && !URL.canParse(replica.url)) return;
      const name = replicaName(replica);
      const earlier = seen.get(name);
      if (earlier !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['replicas', index, replica.name === undefined ? 'url' : 'name'],
          message: `replica name "${name}" is already used by replicas.${earlier}`,
        });
      }
      seen.set(name, index);
    });
    const { auth } = config;
    if (auth.enabled && auth.keys.length === 0 && auth.keysFile === undefined && auth.store !== 'redis') {
      context.addIssue({
        code: 'custom',
        path: ['auth'],
        message: 'auth is enabled but no keys are configured: add auth.keys or auth.keysFile, use store: redis, or set auth.enabled: false',
      });
    }
    for (const name of Object.keys(config.cost.replicaHourly)) {
      if (!seen.has(name)) {
        context.addIssue({ code: 'custom', path: ['cost', 'replicaHourly', name], message: `no replica is named "${name}"` });
      }
    }
  });

export type TollboothConfig = z.infer<typeof configSchema>;
export type TollboothConfigInput = z.input<typeof configSchema>;
export type ReplicaConfig = TollboothConfig['replicas'][number];
export type DiscoveryConfig = TollboothConfig['discovery'][number];

/** The replica's label: its configured name, else host:port of its URL. */
export function replicaName(replica: Pick<ReplicaConfig, 'name' | 'url'>): string {
  return replica.name ?? new URL(replica.url).host;
}
