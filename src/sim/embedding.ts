import { createPrng, mixInt } from './prng.js';

/**
 * Deterministic embeddings: the normalised sum of one pseudo-random vector per token id. Texts
 * that share tokens get similar vectors, so scores and rerank orders are meaningful.
 */
const tokenVectors = new Map<string, Float64Array>();
const MAX_CACHED_TOKEN_VECTORS = 100_000;

function tokenVector(id: number, dimension: number): Float64Array {
  const key = `${dimension}:${id}`;
  const cached = tokenVectors.get(key);
  if (cached !== undefined) return cached;
  const prng = createPrng(mixInt(0xe5bed, id));
  const vector = new Float64Array(dimension);
  for (let d = 0; d < dimension; d++) vector[d] = prng.next() * 2 - 1;
  if (tokenVectors.size >= MAX_CACHED_TOKEN_VECTORS) tokenVectors.clear();
  tokenVectors.set(key, vector);
  return vector;
}

export function embed(tokens: readonly number[], dimension: number): number[] {
  const sum = new Float64Array(dimension);
  for (const id of tokens) {
    const vector = tokenVector(id, dimension);
    for (let d = 0; d < dimension; d++) sum[d] = (sum[d] as number) + (vector[d] as number);
  }
  let norm = 0;
  for (let d = 0; d < dimension; d++) norm += (sum[d] as number) ** 2;
  norm = Math.sqrt(norm) || 1;
  // Rounded to float32 precision, as vLLM returns float32 values.
  return Array.from(sum, (value) => Math.fround(value / norm));
}

/** Cosine similarity of two unit vectors, mapped to [0, 1] like a relevance score. */
export function relevance(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  for (let d = 0; d < a.length; d++) dot += (a[d] as number) * (b[d] as number);
  return Math.fround((Math.max(-1, Math.min(1, dot)) + 1) / 2);
}

/** `encoding_format: "base64"`: little-endian float32 bytes, base64-encoded. */
export function embeddingToBase64(vector: readonly number[]): string {
  return Buffer.from(Float32Array.from(vector).buffer).toString('base64');
}
