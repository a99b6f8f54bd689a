import { z } from 'zod';

const positiveMs = z.number().int().positive();

/** Connections and deadlines towards the replicas: the `upstream` section of the configuration (composed in config/schema.ts). */
export const upstreamConfigSchema = z
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
  .strict();

export type UpstreamConfig = z.infer<typeof upstreamConfigSchema>;
