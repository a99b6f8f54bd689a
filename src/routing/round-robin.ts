/**
 * Round-robin over a candidate list that may change between calls. One cursor per model, so a
 * busy model does not skew the rotation of a quiet one. Pure apart from its cursors.
 */
export class RoundRobin {
  private readonly cursors = new Map<string, number>();

  pick<T>(key: string, candidates: readonly T[]): T | undefined {
    if (candidates.length === 0) return undefined;
    const cursor = this.cursors.get(key) ?? 0;
    this.cursors.set(key, cursor + 1 >= Number.MAX_SAFE_INTEGER ? 0 : cursor + 1);
    return candidates[cursor % candidates.length];
  }
}
