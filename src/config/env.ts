/**
 * The documented TOLLBOOTH_* environment overrides. Each one names the config path it sets and
 * how its text becomes a value; anything not listed here is not read, so a typo cannot
 * half-configure the gateway. TOLLBOOTH_CONFIG names the YAML file itself (see load.ts).
 */
type EnvValueKind = 'string' | 'integer' | 'boolean' | 'replicas' | 'json';

interface EnvOverride {
  readonly variable: string;
  readonly path: readonly string[];
  readonly kind: EnvValueKind;
  readonly description: string;
}

export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { variable: 'TOLLBOOTH_HOST', path: ['server', 'host'], kind: 'string', description: 'listen address' },
  { variable: 'TOLLBOOTH_PORT', path: ['server', 'port'], kind: 'integer', description: 'listen port' },
  { variable: 'TOLLBOOTH_ADMIN_HOST', path: ['admin', 'host'], kind: 'string', description: 'admin listen address (metrics, readiness details)' },
  { variable: 'TOLLBOOTH_ADMIN_PORT', path: ['admin', 'port'], kind: 'integer', description: 'admin listen port' },
  {
    variable: 'TOLLBOOTH_ADMIN_TOKENS',
    path: ['admin', 'tokens'],
    kind: 'json',
    description: 'replaces admin.tokens: a JSON list of {id, token} for the admin API',
  },
  { variable: 'TOLLBOOTH_BODY_LIMIT_BYTES', path: ['server', 'bodyLimitBytes'], kind: 'integer', description: 'largest request body' },
  { variable: 'TOLLBOOTH_DRAIN_TIMEOUT_MS', path: ['server', 'drainTimeoutMs'], kind: 'integer', description: 'SIGTERM drain time' },
  { variable: 'TOLLBOOTH_HEADERS_TIMEOUT_MS', path: ['server', 'headersTimeoutMs'], kind: 'integer', description: 'client request headers deadline' },
  { variable: 'TOLLBOOTH_BODY_IDLE_TIMEOUT_MS', path: ['server', 'bodyIdleTimeoutMs'], kind: 'integer', description: 'silence allowed in a request body' },
  { variable: 'TOLLBOOTH_REQUEST_TIMEOUT_MS', path: ['server', 'requestTimeoutMs'], kind: 'integer', description: 'whole client request deadline' },
  { variable: 'TOLLBOOTH_MAX_CONNECTIONS', path: ['server', 'maxConnections'], kind: 'integer', description: 'open client connections' },
  { variable: 'TOLLBOOTH_UPSTREAM_HEADERS_TIMEOUT_MS', path: ['upstream', 'headersTimeoutMs'], kind: 'integer', description: 'wait for replica headers' },
  { variable: 'TOLLBOOTH_UPSTREAM_CONNECT_TIMEOUT_MS', path: ['upstream', 'connectTimeoutMs'], kind: 'integer', description: 'replica connect timeout' },
  { variable: 'TOLLBOOTH_REDIS_URL', path: ['redis', 'url'], kind: 'string', description: 'Redis URL (keeps a password out of the config file)' },
  { variable: 'TOLLBOOTH_LOG_LEVEL', path: ['logging', 'level'], kind: 'string', description: 'pino level' },
  { variable: 'TOLLBOOTH_ACCESS_LOG', path: ['logging', 'accessLog'], kind: 'boolean', description: 'one JSON line per request' },
  {
    variable: 'TOLLBOOTH_REPLICAS',
    path: ['replicas'],
    kind: 'replicas',
    description: 'replaces the replica list: "url=model1|model2,url2=auto" (a bare url means auto)',
  },
  { variable: 'TOLLBOOTH_AUTH_ENABLED', path: ['auth', 'enabled'], kind: 'boolean', description: 'require API keys' },
  {
    variable: 'TOLLBOOTH_AUTH_KEYS',
    path: ['auth', 'keys'],
    kind: 'json',
    description: 'replaces auth.keys: a JSON list of {id, tenant, models, limits, budget, hash}',
  },
];

export interface EnvParseProblem {
  readonly variable: string;
  readonly message: string;
}

/** Applies the overrides present in `env` to a copy of the raw (unvalidated) file object. */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { value: Record<string, unknown>; problems: EnvParseProblem[] } {
  const value = structuredClone(raw);
  const problems: EnvParseProblem[] = [];
  for (const override of ENV_OVERRIDES) {
    const text = env[override.variable];
    if (text === undefined || text === '') continue;
    const parsed = parseEnvValue(text, override.kind);
    if ('problem' in parsed) {
      problems.push({ variable: override.variable, message: parsed.problem });
      continue;
    }
    setPath(value, override.path, parsed.value);
  }
  return { value, problems };
}

function parseEnvValue(text: string, kind: EnvValueKind): { value: unknown } | { problem: string } {
  switch (kind) {
    case 'string':
      return { value: text };
    case 'integer':
      return /^-?\d+$/.test(text.trim()) ? { value: Number(text) } : { problem: `expected an integer, got "${text}"` };
    case 'boolean':
      if (text === 'true' || text === '1') return { value: true };
      if (text === 'false' || text === '0') return { value: false };
      return { problem: `expected true or false, got "${text}"` };
    case 'replicas':
      return { value: parseReplicaList(text) };
    case 'json':
      try {
        return { value: JSON.parse(text) as unknown };
      } catch (error) {
        return { problem: `expected JSON: ${(error as Error).message}` };
      }
  }
}

function parseReplicaList(text: string): unknown[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => {
      const separator = entry.indexOf('=');
      if (separator < 0) return { url: entry, models: 'auto' };
      const url = entry.slice(0, separator);
      const models = entry.slice(separator + 1);
      return { url, models: models === 'auto' ? 'auto' : models.split('|').filter((m) => m.length > 0) };
    });
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}
