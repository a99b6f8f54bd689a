import { z } from 'zod';
import { guardrailsConfigSchema } from '../guardrails/config.js';
import { adminTlsSchema } from './admin-tls.js';
import { alertsConfigSchema } from '../alerts/config.js';
import { anomalyConfigSchema } from '../analytics/anomaly/config.js';
import { capacityConfigSchema } from '../analytics/capacity/config.js';
import { reportConfigSchema } from '../analytics/report/config.js';
import { authConfigSchema } from '../auth/config.js';
import { costConfigSchema } from '../cost/config.js';
import { overloadConfigSchema } from '../overload/config.js';
import { upstreamConfigSchema } from '../proxy/config.js';
import { passthroughConfigSchema } from '../proxy/passthrough.js';
import { rateLimitConfigSchema } from '../ratelimit/config.js';
import { redisConfigSchema } from '../redis/config.js';
import { discoveryConfigSchema, healthConfigSchema, replicaConfigSchema, replicaName, routingConfigSchema } from '../routing/config.js';
import { serverConfigSchema } from '../server/config.js';
import { metricsConfigSchema } from '../telemetry/metrics/config.js';
import { tracingConfigSchema } from '../telemetry/tracing/config.js';

/**
 * The one definition of Tollbooth's configuration. The TypeScript type is derived from it, so
 * the file, the environment overrides and the code can never disagree about a field.
 * Durations are milliseconds and sizes are bytes; the unit is in every name. Each folder owns its
 * section's schema (`<folder>/config.ts`) and imports only that; this file composes them, and
 * only the wiring (app.ts, main.ts, cli/, admin/) imports it.
 */
export const configSchema = z
  .object({
    server: serverConfigSchema.prefault({}),
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
        /** HTTPS for the admin listener, and with `ca` mutual TLS: a verified client certificate authorises the admin API (config/admin-tls.ts, admin/tls.ts). */
        tls: adminTlsSchema.optional(),
        /** A Prometheus that scrapes the gateways: GET /api/v1/usage?source=prometheus reads usage per tenant and model from it. */
        prometheusUrl: z.url({ protocol: /^https?$/ }).optional(),
      })
      .strict()
      .prefault({}),
    upstream: upstreamConfigSchema.prefault({}),
    replicas: z.array(replicaConfigSchema).default([]),
    /** Replicas found in DNS, re-resolved on an interval (a Kubernetes headless service, an SRV record). */
    discovery: z.array(discoveryConfigSchema).default([]),
    /** The paths without an explicit route that are forwarded to a replica (src/proxy/passthrough.ts). */
    passthrough: passthroughConfigSchema.prefault({}),
    routing: routingConfigSchema.prefault({}),
    health: healthConfigSchema.prefault({}),
    metrics: metricsConfigSchema.prefault({}),
    cost: costConfigSchema.prefault({}),
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
