import { parseArgs } from 'node:util';

export const DEFAULT_URL = 'http://127.0.0.1:8081';
/** The bearer token of metrics.bearerToken. */
export const TOKEN_VARIABLE = 'TOLLBOOTH_METRICS_TOKEN';
/** USER:PASSWORD of metrics.basicAuth. */
export const USER_VARIABLE = 'TOLLBOOTH_METRICS_USER';

export const TOP_USAGE = `usage: tollbooth top [options]

A live view of a gateway in the terminal, read from its GET /api/v1/metrics once a second:
status, requests waiting and running, a concurrency bar, TTFT, decode throughput, GPU memory,
one row per replica and the firing alerts. q or Ctrl-C quits.

  --url URL              the gateway's admin listener, or its API port when the metrics
                         endpoints have credentials (default ${DEFAULT_URL});
                         a URL ending in /api/v1/metrics is read as it is
  --token TOKEN          the metrics bearer token (metrics.bearerToken); env ${TOKEN_VARIABLE}
  --user USER:PASSWORD   the metrics basic auth (metrics.basicAuth); env ${USER_VARIABLE},
                         or put them in the URL (http://user:password@host:port)
  --interval SECONDS     time between reads (default 1, at least 0.1)
  --max-concurrency N    the concurrency bar's full scale (default: the window's peak)
  --once                 print one frame and exit (status 1 when the gateway cannot be read)
  --help                 show this help

Colours only when stdout is a terminal and NO_COLOR is not set.
`;

export interface TopOptions {
  /** What the title shows: the URL as given, without credentials. */
  readonly displayUrl: string;
  readonly endpoint: string;
  /** The Authorization header, when credentials were given. */
  readonly authorization: string | undefined;
  readonly intervalMs: number;
  readonly maxConcurrency: number | undefined;
  readonly once: boolean;
}

/** A flag or value `tollbooth top` cannot use: exit status 2 with the message and the usage. */
export class TopUsageError extends Error {}

export function parseTopArgs(args: readonly string[], env: NodeJS.ProcessEnv): TopOptions | 'help' {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string', short: 'u' },
        token: { type: 'string' },
        user: { type: 'string' },
        interval: { type: 'string' },
        'max-concurrency': { type: 'string' },
        once: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new TopUsageError((error as Error).message);
  }
  if (values.help === true) return 'help';

  const intervalSeconds = positiveNumber('--interval', values.interval ?? '1');
  if (intervalSeconds < 0.1) throw new TopUsageError('--interval is at least 0.1 seconds');
  const maxConcurrency = values['max-concurrency'] === undefined ? undefined : positiveNumber('--max-concurrency', values['max-concurrency']);
  const target = metricsTarget(values.url ?? DEFAULT_URL);
  return {
    displayUrl: target.displayUrl,
    endpoint: target.endpoint,
    authorization: metricsAuthorization(values, env, target.user),
    intervalMs: Math.round(intervalSeconds * 1000),
    maxConcurrency,
    once: values.once === true,
  };
}

/**
 * The Authorization header for the metrics endpoints: the bearer token or USER:PASSWORD from the
 * flags, else the environment, else (the user) the URL; undefined without credentials.
 */
export function metricsAuthorization(flags: { token?: string | undefined; user?: string | undefined }, env: NodeJS.ProcessEnv, urlUser: string | undefined): string | undefined {
  const token = flags.token ?? nonEmpty(env[TOKEN_VARIABLE]);
  const user = flags.user ?? nonEmpty(env[USER_VARIABLE]) ?? urlUser;
  if (token !== undefined && user !== undefined) throw new TopUsageError('give either a bearer token or a user, not both');
  if (user !== undefined && !user.includes(':')) throw new TopUsageError('--user needs USER:PASSWORD');
  return token !== undefined ? `Bearer ${token}` : user !== undefined ? `Basic ${Buffer.from(user).toString('base64')}` : undefined;
}

/**
 * Where the JSON is: `<url>/api/v1/metrics` unless the URL already names it. fetch refuses URLs
 * with credentials in them, so user:password moves to basic auth.
 */
export function metricsTarget(raw: string): { displayUrl: string; endpoint: string; user: string | undefined } {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new TopUsageError(`--url: not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TopUsageError(`--url: use http:// or https://, not ${url.protocol}`);
  const user = url.username === '' ? undefined : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  url.hash = '';
  const path = url.pathname.replace(/\/+$/, '');
  const displayUrl = `${url.origin}${path}`;
  if (!path.endsWith('/api/v1/metrics')) url.pathname = `${path}/api/v1/metrics`;
  return { displayUrl, endpoint: url.toString(), user };
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org) or TERM is dumb. */
export function colorWanted(isTerminal: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTerminal && nonEmpty(env.NO_COLOR) === undefined && env.TERM !== 'dumb';
}

function positiveNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) throw new TopUsageError(`${flag} needs a positive number, got '${raw}'`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
