import { z } from 'zod';
import { nanosPerToken } from './cost.js';

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

/** Token prices and replica hourly prices: the `cost` section of the configuration (composed in config/schema.ts). */
export const costConfigSchema = z
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
  .strict();

export type CostConfig = z.infer<typeof costConfigSchema>;
