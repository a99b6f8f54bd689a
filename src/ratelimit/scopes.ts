import type { KeyBudget, KeyLimits } from '../auth/policy.js';
import type { RateLimitConfig } from './config.js';
import type { AdmitRequest, LimitScope, ScopeKind } from './limiter.js';
import { bucketSpec } from './token-bucket.js';

type ScopeLimits = Omit<LimitScope, 'kind' | 'name'>;

function toScopeLimits(limits: KeyLimits): ScopeLimits {
  return {
    requests: limits.requestsPerMinute === undefined ? undefined : bucketSpec(limits.requestsPerMinute, limits.burstRequests),
    tokens: limits.tokensPerMinute === undefined ? undefined : bucketSpec(limits.tokensPerMinute, limits.burstTokens),
    maxConcurrent: limits.maxConcurrent,
  };
}

function limitsSomething(scope: ScopeLimits): boolean {
  return scope.requests !== undefined || scope.tokens !== undefined || scope.maxConcurrent !== undefined;
}

export function hasBudget(budget: KeyBudget | undefined): budget is KeyBudget {
  return budget !== undefined && (budget.daily !== undefined || budget.monthly !== undefined);
}

/**
 * The scopes a request is checked against: the key's own (always first, even without limits, as
 * the headers describe it), then its tenant's and its model's when the config limits them.
 * Bucket specs are cached per limits object: policies are long-lived, so this costs two map
 * lookups per request instead of fresh objects.
 */
export class ScopeResolver {
  readonly #specs = new WeakMap<KeyLimits, ScopeLimits>();
  readonly #tenants: ReadonlyMap<string, ScopeLimits>;
  readonly #models: ReadonlyMap<string, ScopeLimits>;

  constructor(config: RateLimitConfig) {
    this.#tenants = scopeTable(config.tenants);
    this.#models = scopeTable(config.models);
  }

  /** Whether tenant or model limits exist at all (decides how Redis keys are grouped). */
  get sharedScopes(): { tenants: boolean; models: boolean } {
    return { tenants: this.#tenants.size > 0, models: this.#models.size > 0 };
  }

  resolve(request: AdmitRequest): LimitScope[] {
    let own = this.#specs.get(request.limits);
    if (own === undefined) {
      own = toScopeLimits(request.limits);
      this.#specs.set(request.limits, own);
    }
    const scopes: LimitScope[] = [scoped('key', request.keyId, own)];
    const tenant = this.#tenants.get(request.tenant);
    if (tenant !== undefined) scopes.push(scoped('tenant', request.tenant, tenant));
    const model = this.#models.get(request.model);
    if (model !== undefined) scopes.push(scoped('model', request.model, model));
    return scopes;
  }
}

function scoped(kind: ScopeKind, name: string, limits: ScopeLimits): LimitScope {
  return { kind, name, requests: limits.requests, tokens: limits.tokens, maxConcurrent: limits.maxConcurrent };
}

function scopeTable(entries: Record<string, KeyLimits>): Map<string, ScopeLimits> {
  const table = new Map<string, ScopeLimits>();
  for (const [name, limits] of Object.entries(entries)) {
    const scope = toScopeLimits(limits);
    if (limitsSomething(scope)) table.set(name, scope);
  }
  return table;
}

/** True when no scope limits anything: admission needs no store at all. */
export function unlimited(scopes: readonly LimitScope[]): boolean {
  return scopes.every((scope) => !limitsSomething(scope));
}
