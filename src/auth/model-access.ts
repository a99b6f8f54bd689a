/**
 * Whether a key's `models` list lets it call `model`. Entries are exact model names, "*" (every
 * model), or a prefix ending in "*" ("llama-*"). A request that names no model (a pass-through
 * path such as GET /v1/files) is not a model call and is allowed.
 */
export function mayUseModel(allowed: readonly string[], model: string | undefined): boolean {
  if (model === undefined) return true;
  for (const entry of allowed) {
    if (entry === model || entry === '*') return true;
    if (entry.endsWith('*') && model.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}
