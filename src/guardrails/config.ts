import { z } from 'zod';

/** A JavaScript regular expression given as text, compiled once at boot (a bad one is a config error). */
const regexSource = z.string().min(1).refine((source) => {
  try {
    new RegExp(source, 'iu');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

export const PII_KINDS = ['email', 'phone', 'card', 'national_id'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/**
 * Opt-in checks of what a request asks before a replica sees it (src/guardrails/). Everything is
 * off by default, and then the stage is not even installed.
 */
export const guardrailsConfigSchema = z
  .object({
    /** Largest prompt, in estimated tokens (the rate limiter's estimate), for every model; absent: no limit. */
    maxPromptTokens: z.number().int().positive().optional(),
    /** The same limit per model (the smaller of this and a key's own limit applies). */
    maxPromptTokensByModel: z.record(z.string().min(1), z.number().int().positive()).default({}),
    /**
     * Phrases a prompt must not contain (e.g. known prompt-injection wording), as case-insensitive
     * regular expressions: `reject` answers 400 prompt_rejected naming the rule (never the text),
     * `flag` lets the request through and marks it in the access log and the metrics.
     */
    denyPatterns: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9_]{1,40}$/, 'use 1-40 lower-case letters, digits or "_" (it becomes a metric label)'),
            pattern: regexSource,
            action: z.enum(['reject', 'flag']).default('reject'),
          })
          .strict(),
      )
      .max(50)
      .default([]),
    /**
     * PII masking: what is replaced by a placeholder ([EMAIL], [PHONE], [CARD], [NATIONAL_ID]).
     * Always in captured prompt and completion text (traces); in the request the replica gets
     * only with `maskRequests`.
     */
    pii: z
      .object({
        kinds: z.array(z.enum(PII_KINDS)).default([]),
        /** National id formats (regular expressions); default: the US SSN form 123-45-6789. */
        nationalIdPatterns: z.array(regexSource).default(['\\b\\d{3}-\\d{2}-\\d{4}\\b']),
        /** Also mask the request forwarded to the replica (its JSON is rewritten). */
        maskRequests: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type GuardrailsConfig = z.infer<typeof guardrailsConfigSchema>;

/** Whether any guardrail is configured: with none, the stage is not installed at all. */
export function guardrailsEnabled(config: GuardrailsConfig): boolean {
  return (
    config.maxPromptTokens !== undefined ||
    Object.keys(config.maxPromptTokensByModel).length > 0 ||
    config.denyPatterns.length > 0 ||
    (config.pii.maskRequests && config.pii.kinds.length > 0)
  );
}
