import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { counterUsageReport, USAGE_GROUPS } from '../admin/usage-report.js';
import { issueKey, KeyPolicyError, keysFileAdmin, redisKeyAdmin, viewOf, type KeyStoreAdmin } from '../auth/key-admin.js';
import type { StoredKey } from '../auth/policy.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { readRedisUsage } from '../ratelimit/redis-store.js';
import { parseUsagePeriod, USAGE_PERIOD_KINDS } from '../ratelimit/usage-counters.js';
import { redisConfigSchema } from '../redis/config.js';
import { formatKeyTable, formatUsageTable } from './keys-table.js';

const DEFAULT_PREFIX = redisConfigSchema.parse({}).keyPrefix;
/** The currency of `keys usage --redis` (costs are counted in the gateway's cost.currency, which only --config knows). */
const DEFAULT_CURRENCY = 'USD';

export const KEYS_USAGE = `usage: tollbooth keys <create|list|revoke|usage> (--config FILE | --file FILE | --redis URL [--prefix P]) [options]

  create  --id ID [--tenant T] [--models m1,m2] [--rpm N] [--tpm N] [--burst-requests N]
          [--burst-tokens N] [--max-concurrent N] [--daily-budget X] [--monthly-budget X]
          [--priority critical|standard|batch]  (overload class; default: the tenant's, else standard)
          prints the new key once on stdout; only its SHA-256 is stored
  list    [--json]   ids, tenants, models, limits, budgets and priorities (never secrets)
  revoke  --id ID    removes the key; with Redis every gateway drops it within a second
  usage   [--period day|month] [--date YYYY-MM-DD|YYYY-MM] [--group key|tenant] [--json]
          requests, tokens and cost per key (or tenant) in a UTC day or month (default: today),
          from the usage counters in Redis (rateLimits.store: redis; --config or --redis) as
          GET /api/v1/usage reports them; a memory store's counters are in the gateway only

  --config FILE the gateway's configuration: its Redis store (auth.store: redis, the redis section)
                or else its auth.keysFile
  --file FILE   a keys file (auth.keysFile): a YAML list, created when missing
  --redis URL   the Redis key store (auth.store: redis), e.g. redis://127.0.0.1:6379
  --prefix P    the redis.keyPrefix of the gateways (default "${DEFAULT_PREFIX}")
`;

/** Bad flags or values: exit status 2, like the other commands' configuration errors. */
class UsageError extends Error {}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  file: { type: 'string' },
  redis: { type: 'string' },
  prefix: { type: 'string' },
  id: { type: 'string' },
  tenant: { type: 'string' },
  models: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  'burst-requests': { type: 'string' },
  'burst-tokens': { type: 'string' },
  'max-concurrent': { type: 'string' },
  'daily-budget': { type: 'string' },
  'monthly-budget': { type: 'string' },
  priority: { type: 'string' },
  period: { type: 'string' },
  date: { type: 'string' },
  group: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type KeysFlags = ReturnType<typeof parseKeysArgs>['values'];

function parseKeysArgs(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Runs `tollbooth keys …`; resolves with the process exit status. */
export async function runKeysCommand(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let backend: KeyStoreAdmin | undefined;
  try {
    const { values, positionals } = parseKeysArgs(args);
    const [action, ...extra] = positionals;
    if (values.help === true || action === undefined || action === 'help') {
      out.write(KEYS_USAGE);
      return 0;
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (action !== 'create' && action !== 'list' && action !== 'revoke' && action !== 'usage') throw new UsageError(`unknown keys command "${action}"`);
    if (action === 'usage') return await printUsage(values, out);
    if (action !== 'create') rejectPolicyFlags(values, action);
    if (action === 'create') {
      // Flags are checked before any store is opened: a typo never touches the store.
      const { secret, stored } = newStoredKey(values);
      backend = await openBackend(values, err);
      await backend.create(stored);
      err.write(`created key "${stored.id}" (tenant ${stored.tenant}) in ${backend.where}\n`);
      err.write('store this key now: it is shown only once and cannot be recovered\n');
      out.write(`${secret}\n`);
      return 0;
    }
    if (action === 'list') {
      backend = await openBackend(values, err);
      const keys = await backend.list();
      out.write(values.json === true ? `${JSON.stringify(keys.map(viewOf), null, 2)}\n` : formatKeyTable(keys));
      return 0;
    }
    const id = required(values.id, '--id');
    backend = await openBackend(values, err);
    if (!(await backend.revoke(id))) {
      err.write(`no key with id "${id}" in ${backend.where}\n`);
      return 1;
    }
    err.write(`revoked key "${id}" in ${backend.where}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`${error.message.split('\n').map((line) => `tollbooth keys: ${line}`).join('\n')}\n(tollbooth keys --help shows the usage)\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      err.write(`${error.message}\n`);
      return 2;
    }
    err.write(`tollbooth keys: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await backend?.close();
  }
}

/** The flags as a policy, checked by the same code as the admin API's POST /api/v1/keys. */
function newStoredKey(values: KeysFlags): { secret: string; stored: StoredKey } {
  const problems: string[] = [];
  const number = (flag: keyof KeysFlags): number | undefined => {
    const text = values[flag];
    if (text === undefined) return undefined;
    if (typeof text === 'string' && /^\d+(\.\d+)?$/.test(text.trim())) return Number(text);
    problems.push(`--${flag}: expected a number, got "${String(text)}"`);
    return undefined;
  };
  const policy = {
    id: values.id,
    tenant: values.tenant,
    models: values.models?.split(',').map((model) => model.trim()).filter((model) => model.length > 0),
    limits: withoutUndefined({
      requestsPerMinute: number('rpm'),
      tokensPerMinute: number('tpm'),
      burstRequests: number('burst-requests'),
      burstTokens: number('burst-tokens'),
      maxConcurrent: number('max-concurrent'),
    }),
    budget: optionalObject({ daily: number('daily-budget'), monthly: number('monthly-budget') }),
    priority: values.priority,
  };
  if (values.id === undefined) problems.push('--id is required');
  let issued: { secret: string; stored: StoredKey } | undefined;
  try {
    issued = issueKey(withoutUndefined(policy));
  } catch (error) {
    if (!(error instanceof KeyPolicyError)) throw error;
    problems.push(...error.problems.filter((problem) => values.id !== undefined || !problem.startsWith('id:')).map(flagName));
  }
  if (problems.length > 0 || issued === undefined) throw new UsageError(problems.join('\n'));
  return issued;
}

const FLAG_OF_PATH: Record<string, string> = {
  'limits.requestsPerMinute': '--rpm',
  'limits.tokensPerMinute': '--tpm',
  'limits.burstRequests': '--burst-requests',
  'limits.burstTokens': '--burst-tokens',
  'limits.maxConcurrent': '--max-concurrent',
  'budget.daily': '--daily-budget',
  'budget.monthly': '--monthly-budget',
  id: '--id',
  tenant: '--tenant',
  models: '--models',
  priority: '--priority',
};

/** Speaks in flags, not schema paths: "limits.maxConcurrent: …" becomes "--max-concurrent: …". */
function flagName(problem: string): string {
  const separator = problem.indexOf(': ');
  const path = problem.slice(0, separator).replace(/\.\d+$/, '');
  const flag = FLAG_OF_PATH[path];
  return flag === undefined ? problem : `${flag}${problem.slice(separator)}`;
}

const USAGE_FLAGS = new Set(['period', 'date', 'group']);

function rejectPolicyFlags(values: KeysFlags, action: string): void {
  const allowed = new Set(['config', 'file', 'redis', 'prefix', 'id', 'json', 'help']);
  const stray = Object.keys(values).filter((flag) => !allowed.has(flag));
  const owner = stray.every((flag) => USAGE_FLAGS.has(flag)) ? 'keys usage' : 'keys create';
  if (stray.length > 0) throw new UsageError(`${stray.map((flag) => `--${flag}`).join(', ')} belong to "${owner}", not "keys ${action}"`);
}

/**
 * `keys usage`: the shared usage counters of a period, read from Redis by the Redis store's own
 * reader and shaped by the admin API's own report (GET /api/v1/usage), so both say the same.
 */
async function printUsage(values: KeysFlags, out: NodeJS.WritableStream): Promise<number> {
  const allowed = new Set(['config', 'redis', 'prefix', 'json', 'help', ...USAGE_FLAGS]);
  const stray = Object.keys(values).filter((flag) => !allowed.has(flag));
  if (stray.length > 0) throw new UsageError(`${stray.map((flag) => `--${flag}`).join(', ')} do not apply to "keys usage"`);
  const kind = choice(values.period, USAGE_PERIOD_KINDS, '--period') ?? 'day';
  const group = choice(values.group, USAGE_GROUPS, '--group') ?? 'key';
  const period = parseUsagePeriod(kind, values.date, Date.now());
  if (typeof period === 'string') throw new UsageError(`--date: ${period}`);
  const { redisUrl, keyPrefix, currency } = usageStore(values);
  const redis = await connectRedis(redisUrl);
  try {
    const report = counterUsageReport(period, group, await readRedisUsage(redis, keyPrefix, period), currency);
    out.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatUsageTable(report));
    return 0;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

function choice<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw new UsageError(`${flag}: expected ${allowed.join(' or ')}, got "${value}"`);
}

/** Where the shared usage counters are: the gateway's rate-limit Redis, or the one named. */
function usageStore(values: KeysFlags): { redisUrl: string; keyPrefix: string; currency: string } {
  if ((values.config === undefined) === (values.redis === undefined)) throw new UsageError('name the counters\' Redis: --config FILE or --redis URL');
  if (values.prefix !== undefined && values.redis === undefined) throw new UsageError('--prefix goes with --redis');
  if (values.redis !== undefined) return { redisUrl: values.redis, keyPrefix: values.prefix ?? DEFAULT_PREFIX, currency: DEFAULT_CURRENCY };
  const config = loadConfig({ file: values.config });
  if (config.rateLimits.store !== 'redis') {
    throw new UsageError(`${values.config} keeps its usage counters in each gateway's memory (rateLimits.store: memory): read them with GET /api/v1/usage on the admin listener`);
  }
  return { redisUrl: config.redis.url, keyPrefix: config.redis.keyPrefix, currency: config.cost.currency };
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required`);
  return value;
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

function optionalObject<T extends Record<string, unknown>>(value: T): Partial<T> | undefined {
  const present = withoutUndefined(value);
  return Object.keys(present).length === 0 ? undefined : present;
}

/** The key store named by the flags: a file, a Redis URL, or the one the gateway's configuration uses. */
function chooseStore(values: KeysFlags): { file: string } | { redisUrl: string; keyPrefix: string } {
  const named = [values.config, values.file, values.redis].filter((value) => value !== undefined);
  if (named.length !== 1) throw new UsageError('name exactly one key store: --config FILE, --file FILE or --redis URL');
  if (values.prefix !== undefined && values.redis === undefined) throw new UsageError('--prefix goes with --redis');
  if (values.file !== undefined) return { file: values.file };
  if (values.redis !== undefined) return { redisUrl: values.redis, keyPrefix: values.prefix ?? DEFAULT_PREFIX };
  const config = loadConfig({ file: values.config });
  if (config.auth.store === 'redis') return { redisUrl: config.redis.url, keyPrefix: config.redis.keyPrefix };
  if (config.auth.keysFile !== undefined) return { file: config.auth.keysFile };
  throw new UsageError(`${values.config} keeps no keys the CLI can change: set auth.keysFile or auth.store: redis`);
}

async function openBackend(values: KeysFlags, err: NodeJS.WritableStream): Promise<KeyStoreAdmin> {
  const chosen = chooseStore(values);
  if ('file' in chosen) return keysFileAdmin(chosen.file);
  const redis = await connectRedis(chosen.redisUrl);
  return redisKeyAdmin(redis, chosen.keyPrefix, {
    onInvalidEntry: (problem) => err.write(`warning: invalid entry ignored by the gateways: ${problem}\n`),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  });
}

/**
 * One connection attempt, no reconnect loop: a command-line tool should fail fast and say why,
 * which is why this is not the gateway's `createRedisClient` (that one reconnects forever).
 */
async function connectRedis(url: string): Promise<Redis> {
  if (!/^rediss?:\/\//.test(url)) throw new UsageError(`--redis: expected a redis:// or rediss:// URL, got "${url}"`);
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    connectTimeout: 5_000,
    // ioredis otherwise holds the process for 2 s after a failed connection (a timer on a socket that already closed).
    disconnectTimeout: 100,
  });
  let cause: Error | undefined;
  redis.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${url}: ${(cause ?? (error as Error)).message}`);
  }
  return redis;
}
