import { z } from 'zod';
import { prioritySchema } from '../auth/policy.js';

/** The priority classes are a key's (auth/policy.ts); overload's modules take them from here. */
export { PRIORITY_CLASSES, prioritySchema, type PriorityClass } from '../auth/policy.js';

/** The levels of a model's load, in order: each one enters above its thresholds and leaves below them. */
export const OVERLOAD_LEVELS = ['normal', 'pressure', 'overload'] as const;
export type OverloadLevel = (typeof OVERLOAD_LEVELS)[number];

/** A hysteresis band: the signal enters the level above `enter` and may leave it only below `exit`. */
const band = z
  .object({ enter: z.number().nonnegative(), exit: z.number().nonnegative() })
  .strict()
  .refine((value) => value.exit < value.enter, { message: 'exit must be below enter (hysteresis)', path: ['exit'] });

/**
 * The load signals of one level, per model (over the replicas serving it). A level is entered when
 * any configured signal is above its `enter`, and left when every one is below its `exit` for
 * `exitAfterMs`. Unset signals are not judged.
 */
const levelThresholds = z
  .object({
    /** Engine queue per replica: the replicas' vllm:num_requests_waiting summed, divided by their number. */
    waitingPerReplica: band.optional(),
    /** KV-cache use, 0-1: the fullest replica's vllm:kv_cache_usage_perc. */
    kvCacheUsage: band
      .refine((value) => value.enter <= 1, { message: 'a ratio between 0 and 1', path: ['enter'] })
      .optional(),
    /** Gateway in-flight requests per replica divided by `concurrencyPerReplica` (needs it). */
    inFlightRatio: band.optional(),
  })
  .strict()
  .refine((level) => Object.values(level).some((value) => value !== undefined), 'configure at least one signal');

export const overloadConfigSchema = z
  .object({
    /** Off (the default), the stage is not installed: no request pays for it. */
    enabled: z.boolean().default(false),
    /** How often the per-model levels are re-evaluated from the fleet's figures. */
    evaluateIntervalMs: z.number().int().min(50).default(500),
    /** Time every signal must stay below its `exit` before a level is left. */
    exitAfterMs: z.number().int().nonnegative().default(5_000),
    /** Requests one replica should run at once (the in-flight signal and critical's hard limit are relative to it). */
    concurrencyPerReplica: z.number().int().positive().optional(),
    /**
     * Of concurrencyPerReplica, the slots kept free for critical traffic at every level: a standard
     * or batch request goes on only while the model's requests in flight at this gateway (every
     * class) stay below `concurrencyPerReplica - criticalReservePerReplica` per replica; otherwise
     * it waits in the gateway queue (a queued class) or is shed (503 overloaded). The gateway knows
     * its in-flight count at once, while the engine queue is seen a scrape later, when lower-class
     * requests already hold every engine slot. Absent: no reserve. Needs concurrencyPerReplica.
     */
    criticalReservePerReplica: z.number().int().positive().optional(),
    /** Entering `pressure` clamps `max_tokens` of the clamped classes. */
    pressure: levelThresholds.default({ waitingPerReplica: { enter: 8, exit: 2 } }),
    /** Entering `overload` also sheds the shed classes with 503 overloaded. */
    overload: levelThresholds.default({ waitingPerReplica: { enter: 32, exit: 8 } }),
    clamp: z
      .object({
        enabled: z.boolean().default(true),
        /** The ceiling put on max_tokens / max_completion_tokens (set when the client sent none). */
        maxTokens: z.number().int().positive().default(256),
        classes: z.array(prioritySchema).default(['standard', 'batch']),
      })
      .strict()
      .prefault({}),
    shed: z
      .object({
        enabled: z.boolean().default(true),
        /** Shed during `overload`; critical is never listed here (see criticalHardLimitPerReplica). */
        classes: z.array(prioritySchema.exclude(['critical'])).default(['batch']),
        /**
         * Critical traffic is shed last: only during `overload`, and only when critical requests
         * alone have more than this many in flight per replica. Absent: critical is never shed.
         */
        criticalHardLimitPerReplica: z.number().int().positive().optional(),
        /** Retry-After bounds, in seconds (drain time of the engine queue at the observed completion rate). */
        minRetryAfterSeconds: z.number().int().min(1).default(1),
        maxRetryAfterSeconds: z.number().int().min(1).default(60),
      })
      .strict()
      .refine((shed) => shed.minRetryAfterSeconds <= shed.maxRetryAfterSeconds, { message: 'must not be below minRetryAfterSeconds', path: ['maxRetryAfterSeconds'] })
      .prefault({}),
    /**
     * The gateway queue: in `overload`, requests of these classes are held here instead of being
     * forwarded or shed, released fairly across tenants (weighted by class) as the model's requests
     * complete once it is out of overload, and shed (503 overloaded) when the queue is full or
     * their deadline passes. A class both queued and in shed.classes is queued first.
     */
    queue: z
      .object({
        enabled: z.boolean().default(false),
        classes: z.array(prioritySchema.exclude(['critical'])).default(['standard', 'batch']),
        /** Requests held per model at most. */
        maxLength: z.number().int().positive().max(100_000).default(256),
        /** Longest wait in the queue, per class (ms). */
        deadlineMs: z
          .object({ standard: z.number().int().positive().default(10_000), batch: z.number().int().positive().default(5_000) })
          .strict()
          .prefault({}),
        /** Share of the releases while several wait: a standard tenant gets `standard / batch` times a batch tenant's. */
        weights: z
          .object({ standard: z.number().positive().default(4), batch: z.number().positive().default(1) })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** A tenant's class for its keys that set no `priority` of their own; others are standard. */
    tenantPriorities: z.record(z.string().min(1), prioritySchema).default({}),
  })
  .strict()
  .superRefine((config, context) => {
    const { concurrencyPerReplica, criticalReservePerReplica } = config;
    if (criticalReservePerReplica !== undefined && (concurrencyPerReplica === undefined || criticalReservePerReplica >= concurrencyPerReplica)) {
      context.addIssue({ code: 'custom', path: ['criticalReservePerReplica'], message: 'needs overload.concurrencyPerReplica, and must be below it (lower classes need a slot)' });
    }
    for (const level of ['pressure', 'overload'] as const) {
      if (config[level].inFlightRatio !== undefined && config.concurrencyPerReplica === undefined) {
        context.addIssue({ code: 'custom', path: [level, 'inFlightRatio'], message: 'needs overload.concurrencyPerReplica' });
      }
    }
  });

export type OverloadConfig = z.infer<typeof overloadConfigSchema>;
export type OverloadConfigInput = z.input<typeof overloadConfigSchema>;
export type LevelThresholds = OverloadConfig['pressure'];
