/**
 * Whether a key's `models` list lets it call `model`. Entries are exact model names, "*" (every
 * model), or a prefix ending in "*" ("llama-*"). A request that names no model (a pass-through
 * path, /tokenize without `model`) lets the replica choose, so it may reach any model: only a key
 * allowed every model ("*") may send it.
 */
export function mayUseModel(allowed: readonly string[], model: string | undefined): boolean {
  if (model === undefined) return allowed.includes('*');
  for (const entry of allowed) {
    if (entry === model || entry === '*') return true;
    if (entry.endsWith('*') && model.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}
