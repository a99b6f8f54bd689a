import { z } from 'zod';

const positiveMs = z.number().int().positive();

/** The API listener and its client connections: the `server` section of the configuration (composed in config/schema.ts). */
export const serverConfigSchema = z
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
  });

export type ServerConfig = z.infer<typeof serverConfigSchema>;
