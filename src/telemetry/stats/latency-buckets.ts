/** The reference service's latency histogram: lower edges inclusive, milliseconds. */
export const LATENCY_BUCKET_LABELS = ['0-100ms', '100-500ms', '500-1000ms', '1-2s', '2-5s', '5-10s', '>10s'] as const;
export type LatencyBucketLabel = (typeof LATENCY_BUCKET_LABELS)[number];

const UPPER_EDGES_MS = [100, 500, 1000, 2000, 5000, 10_000];

export function latencyBucketOf(latencyMs: number): number {
  let bucket = 0;
  while (bucket < UPPER_EDGES_MS.length && latencyMs >= UPPER_EDGES_MS[bucket]!) bucket++;
  return bucket;
}
