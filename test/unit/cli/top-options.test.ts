import { describe, expect, it } from 'vitest';
import { colorWanted, metricsTarget, parseTopArgs, TopUsageError } from '../../../src/cli/top/options.js';
import { snapshotProblem } from '../../../src/cli/top/read.js';
import { busySnapshot } from './top-fixtures.js';

describe('tollbooth top: options', () => {
  it('reads the local admin listener by default, once a second, without credentials', () => {
    expect(parseTopArgs([], {})).toEqual({
      displayUrl: 'http://127.0.0.1:8081',
      endpoint: 'http://127.0.0.1:8081/api/v1/metrics',
      authorization: undefined,
      intervalMs: 1000,
      maxConcurrency: undefined,
      once: false,
    });
  });

  it('finds /api/v1/metrics under any URL, keeps one that names it, and takes a bare host:port', () => {
    expect(metricsTarget('http://gw.example:8081/').endpoint).toBe('http://gw.example:8081/api/v1/metrics');
    expect(metricsTarget('https://gw.example/tollbooth').endpoint).toBe('https://gw.example/tollbooth/api/v1/metrics');
    expect(metricsTarget('http://127.0.0.1:9000/api/v1/metrics').endpoint).toBe('http://127.0.0.1:9000/api/v1/metrics');
    expect(metricsTarget('127.0.0.1:8081').endpoint).toBe('http://127.0.0.1:8081/api/v1/metrics');
    expect(() => metricsTarget('ftp://x')).toThrow(TopUsageError);
  });

  it('sends the metrics bearer token or basic auth, from flags, the environment or the URL', () => {
    expect(parseTopArgs(['--token', 'abc'], {})).toMatchObject({ authorization: 'Bearer abc' });
    expect(parseTopArgs([], { TOLLBOOTH_METRICS_TOKEN: 'from-env' })).toMatchObject({ authorization: 'Bearer from-env' });
    expect(parseTopArgs(['--user', 'ops:s3cret'], {})).toMatchObject({ authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` });
    expect(parseTopArgs([], { TOLLBOOTH_METRICS_USER: 'ops:pw' })).toMatchObject({ authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}` });
    // Credentials in the URL become basic auth and leave the URL (fetch refuses them, and the title shows it).
    const fromUrl = parseTopArgs(['--url', 'http://ops:p%40ss@127.0.0.1:8081'], {});
    expect(fromUrl).toMatchObject({ displayUrl: 'http://127.0.0.1:8081', endpoint: 'http://127.0.0.1:8081/api/v1/metrics', authorization: `Basic ${Buffer.from('ops:p@ss').toString('base64')}` });
    expect(() => parseTopArgs(['--token', 'a', '--user', 'b:c'], {})).toThrow(/either/);
    expect(() => parseTopArgs(['--user', 'nopassword'], {})).toThrow(/USER:PASSWORD/);
  });

  it('refuses intervals and scales that are not positive numbers, and unknown flags', () => {
    expect(parseTopArgs(['--interval', '2.5', '--max-concurrency', '64', '--once'], {})).toMatchObject({ intervalMs: 2500, maxConcurrency: 64, once: true });
    for (const args of [['--interval', '0'], ['--interval', 'fast'], ['--interval', '0.01'], ['--max-concurrency', '-1'], ['--colour']]) {
      expect(() => parseTopArgs(args, {}), args.join(' ')).toThrow(TopUsageError);
    }
    expect(parseTopArgs(['--help'], {})).toBe('help');
  });

  it('colours only a terminal, and never with NO_COLOR set or TERM=dumb', () => {
    expect(colorWanted(true, { TERM: 'xterm-256color' })).toBe(true);
    expect(colorWanted(false, { TERM: 'xterm-256color' })).toBe(false);
    expect(colorWanted(true, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted(true, { NO_COLOR: '' })).toBe(true); // no-color.org: set and not empty
    expect(colorWanted(true, { TERM: 'dumb' })).toBe(false);
  });
});

describe('tollbooth top: what counts as a metrics answer', () => {
  it('accepts the gateway’s snapshot and names the first missing field of anything else', () => {
    expect(snapshotProblem(JSON.parse(JSON.stringify(busySnapshot())))).toBeUndefined();
    expect(snapshotProblem({ status: 'ok' })).toBe('no requests.running');
    expect(snapshotProblem('<html>')).toBe('no status');
    const { alerts: _alerts, ...withoutAlerts } = busySnapshot();
    expect(snapshotProblem(withoutAlerts)).toBe('no alerts');
  });
});
