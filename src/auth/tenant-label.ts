/** The label value of every tenant the operator did not declare in `auth.tenants`. */
export const UNDECLARED_TENANT_LABEL = 'other';

/**
 * Maps a key's tenant to a metric label value: declared tenants keep their name, anything else
 * collapses into one value, so creating keys can never grow a metric's label set.
 */
export function tenantLabeler(declared: readonly string[]): (tenant: string) => string {
  const known = new Set(declared);
  return (tenant) => (known.has(tenant) ? tenant : UNDECLARED_TENANT_LABEL);
}
