import { isIP, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';

// Routing's sections of the configuration (replicas, discovery, routing, health), composed in config/schema.ts.
const positiveMs = z.number().int().positive();

/** One vLLM replica given by URL. */
export const replicaConfigSchema = z
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

/** Replicas found in DNS, re-resolved on an interval (a Kubernetes headless service, an SRV record). */
export const discoveryConfigSchema = z
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

export const routingConfigSchema = z
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
  .strict();

export const healthConfigSchema = z
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
  .strict();

export type ReplicaConfig = z.infer<typeof replicaConfigSchema>;
export type DiscoveryConfig = z.infer<typeof discoveryConfigSchema>;
export type RoutingConfig = z.infer<typeof routingConfigSchema>;
export type HealthConfig = z.infer<typeof healthConfigSchema>;

/** The replica's label: its configured name, else host:port of its URL. */
export function replicaName(replica: Pick<ReplicaConfig, 'name' | 'url'>): string {
  return replica.name ?? new URL(replica.url).host;
}
