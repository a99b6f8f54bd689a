import { createPrng, hashBytes, hexId, mixInt, mixNumber, type Prng } from './prng.js';

/** Process-wide source for ids and draws of unseeded requests (cheaper than crypto). */
const unseeded = createPrng((Math.random() * 0x1_0000_0000) >>> 0);

/** Fixed `created` for seeded simulators, so identical requests give identical bytes. */
export const SEEDED_CREATED = 1_700_000_000;

export interface RequestRandomness {
  prng: Prng;
  /** True when output is reproducible (simulator seed or request `seed`). */
  seeded: boolean;
  /** Seed of this request's PRNG, for deriving ids. */
  seed: number;
  /** True with a simulator seed: response ids and `created` are reproducible too. */
  fixedIdentity: boolean;
}

/** Request fields that change how a response is delivered, not what the model generates. */
const DELIVERY_FIELDS = new Set(['stream', 'stream_options']);

/**
 * The PRNG of one request. With a simulator seed or a request `seed`, it is derived from the seed
 * and the request's generation fields, so the same request always generates the same output,
 * streamed or not, with or without stream_options (as a seeded vLLM does): a gateway that adds
 * `stream_options.include_usage` must not change the text.
 */
export function requestRandomness(simulatorSeed: number | undefined, json: Record<string, unknown>): RequestRandomness {
  const requestSeed = json['seed'];
  const hasRequestSeed = typeof requestSeed === 'number' && Number.isFinite(requestSeed);
  if (simulatorSeed === undefined && !hasRequestSeed) {
    const seed = (unseeded.next() * 0x1_0000_0000) >>> 0;
    return { prng: createPrng(seed), seeded: false, seed, fixedIdentity: false };
  }
  const generationFields = JSON.stringify(json, (key, value: unknown) => (DELIVERY_FIELDS.has(key) ? undefined : value));
  const seed = hashBytes(Buffer.from(generationFields), mixNumber(0x811c9dc5, simulatorSeed ?? 0));
  return { prng: createPrng(seed), seeded: true, seed, fixedIdentity: simulatorSeed !== undefined };
}

/** 32 hex digits like vLLM's random_uuid(); reproducible when the request is seeded. */
export function randomHexId(randomness: RequestRandomness | null): string {
  if (randomness === null || !randomness.fixedIdentity) return hexId(unseeded);
  return hexId(createPrng(mixInt(randomness.seed, 0x1d)));
}

/** A request id for requests that came without `x-request-id`. */
export function generatedRequestId(): string {
  return hexId(unseeded);
}

export function createdAt(randomness: RequestRandomness | null): number {
  return randomness !== null && randomness.fixedIdentity ? SEEDED_CREATED : Math.floor(Date.now() / 1000);
}
