import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withDemoKey } from '../../../src/cli/demo-key.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { problemsOf } from '../../helpers/config-problems.js';

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-config-')), 'config.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('fills defaults and freezes the result', () => {
    const config = loadConfig({ file: yamlFile('replicas:\n  - url: http://127.0.0.1:8000\n    models: [m]\nauth:\n  enabled: false\n'), env: {} });
    expect(config.server.port).toBe(8080);
    expect(config.upstream.headersTimeoutMs).toBe(300_000);
    expect(config.routing.strategy).toBe('session');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.replicas[0])).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('reports every problem at once, each with its path', () => {
    const file = yamlFile(`
server:
  port: 70000
  bodyLimitBytes: -1
replicas:
  - url: ftp://x
    models: []
  - url: http://a:1/v1
    models: auto
    colour: blue
  - url: not-a-url
    models: auto
`);
    const problems = problemsOf(() => loadConfig({ file, env: {} }));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^server\.port: /),
        expect.stringMatching(/^server\.bodyLimitBytes: /),
        expect.stringMatching(/^replicas\.0\.url: must be an http/),
        expect.stringMatching(/^replicas\.0\.models: /),
        expect.stringMatching(/^replicas\.1\.url: must not have a path/),
        expect.stringMatching(/^replicas\.1: .*colour/),
        expect.stringMatching(/^replicas\.2\.url: must be an http/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(7);
  });

  it('rejects two replicas with the same name', () => {
    const problems = problemsOf(() =>
      parseConfig({ replicas: [{ url: 'http://a:1', models: ['m'] }, { url: 'http://a:1', models: ['n'] }], auth: { enabled: false } }),
    );
    expect(problems).toEqual([expect.stringMatching(/^replicas\.1\.url: replica name "a:1" is already used by replicas\.0/)]);
  });

  it('bounds client connections by default, and refuses a headers timeout longer than the request timeout', () => {
    const replicas = [{ url: 'http://127.0.0.1:8000', models: ['m'] }];
    const config = parseConfig({ replicas, auth: { enabled: false } });
    expect(config.server).toMatchObject({ headersTimeoutMs: 30_000, bodyIdleTimeoutMs: 30_000, requestTimeoutMs: 600_000, maxConnections: 10_000 });
    const overridden = loadConfig({
      env: {
        TOLLBOOTH_REPLICAS: 'http://127.0.0.1:8000',
        TOLLBOOTH_AUTH_ENABLED: 'false',
        TOLLBOOTH_HEADERS_TIMEOUT_MS: '5000',
        TOLLBOOTH_BODY_IDLE_TIMEOUT_MS: '6000',
        TOLLBOOTH_REQUEST_TIMEOUT_MS: '7000',
        TOLLBOOTH_MAX_CONNECTIONS: '100',
      },
    });
    expect(overridden.server).toMatchObject({ headersTimeoutMs: 5_000, bodyIdleTimeoutMs: 6_000, requestTimeoutMs: 7_000, maxConnections: 100 });
    const problems = problemsOf(() => parseConfig({ replicas, auth: { enabled: false }, server: { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } }));
    expect(problems).toEqual([expect.stringMatching(/^server\.headersTimeoutMs: must not exceed server\.requestTimeoutMs/)]);
  });

  it('applies TOLLBOOTH_* overrides over the file', () => {
    const file = yamlFile('server:\n  port: 9000\nreplicas:\n  - url: http://127.0.0.1:8000\n    models: [m]\n');
    const config = loadConfig({
      file,
      env: {
        TOLLBOOTH_PORT: '9100',
        TOLLBOOTH_ACCESS_LOG: 'false',
        TOLLBOOTH_REPLICAS: 'http://10.0.0.1:8000=a|b, http://10.0.0.2:8000',
        TOLLBOOTH_AUTH_ENABLED: 'false',
        TOLLBOOTH_REDIS_URL: 'redis://user:secret@redis.internal:6380/2',
      },
    });
    expect(config.server.port).toBe(9100);
    expect(config.redis.url).toBe('redis://user:secret@redis.internal:6380/2');
    expect(config.logging.accessLog).toBe(false);
    expect(config.replicas).toEqual([
      { url: 'http://10.0.0.1:8000', models: ['a', 'b'] },
      { url: 'http://10.0.0.2:8000', models: 'auto' },
    ]);
  });

  it('reads the file named by TOLLBOOTH_CONFIG, and works from the environment alone', () => {
    const file = yamlFile('replicas:\n  - url: http://127.0.0.1:8000\n    models: auto\nauth:\n  enabled: false\n');
    expect(loadConfig({ env: { TOLLBOOTH_CONFIG: file } }).replicas[0]?.models).toBe('auto');
    expect(loadConfig({ env: { TOLLBOOTH_REPLICAS: 'http://127.0.0.1:8000', TOLLBOOTH_AUTH_ENABLED: 'false' } }).replicas).toHaveLength(1);
  });

  it('reports bad environment values together with schema problems', () => {
    const problems = problemsOf(() => loadConfig({ env: { TOLLBOOTH_PORT: 'eighty', TOLLBOOTH_ACCESS_LOG: 'maybe' } }));
    expect(problems).toEqual([
      'TOLLBOOTH_PORT: expected an integer, got "eighty"',
      'TOLLBOOTH_ACCESS_LOG: expected true or false, got "maybe"',
      'replicas: list at least one replica, or a discovery entry',
      'auth: auth is enabled but no keys are configured: add auth.keys or auth.keysFile, use store: redis, or set auth.enabled: false',
    ]);
  });

  it('refuses to start with auth on and no key anywhere, but accepts keys from the environment', () => {
    const file = yamlFile('replicas:\n  - url: http://127.0.0.1:8000\n    models: [m]\n');
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([expect.stringMatching(/^auth: auth is enabled but no keys are configured/)]);
    const keys = JSON.stringify([{ id: 'ops', hash: 'a'.repeat(64) }]);
    expect(loadConfig({ file, env: { TOLLBOOTH_AUTH_KEYS: keys } }).auth.keys[0]).toMatchObject({ id: 'ops', tenant: 'default', hash: 'a'.repeat(64) });
  });

  it('explains unreadable and malformed files', () => {
    expect(problemsOf(() => loadConfig({ file: '/nonexistent/tollbooth.yaml', env: {} }))[0]).toMatch(/cannot read the file/);
    expect(problemsOf(() => loadConfig({ file: yamlFile('replicas: [\n'), env: {} }))[0]).toMatch(/not valid YAML/);
    expect(problemsOf(() => loadConfig({ file: yamlFile('- a\n- b\n'), env: {} }))[0]).toMatch(/top level must be a mapping/);
  });

  it('lists YAML warnings as problems instead of printing them beside a running gateway', () => {
    const tagged = yamlFile('replicas:\n  - url: !!js/function http://127.0.0.1:8000\n    models: [m]\nauth:\n  enabled: false\n');
    expect(problemsOf(() => loadConfig({ file: tagged, env: {} }))).toEqual([expect.stringMatching(/^not valid YAML: .*tag/)]);
    const laughs = yamlFile(`a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 12 }, (_, i) => `l${i}: &l${i} [${(i === 0 ? '*a' : `*l${i - 1}`) + ', '.repeat(1)}${i === 0 ? '*a' : `*l${i - 1}`}]`).join('\n')}\n`);
    expect(problemsOf(() => loadConfig({ file: laughs, env: {} }))[0]).toMatch(/not valid YAML/);
  });

  it('accepts the shipped example and demo files', () => {
    expect(loadConfig({ file: 'config/tollbooth.example.yaml', env: {} }).replicas).toHaveLength(2);
    // The demo runs with auth on and gets its key from `tollbooth demo` (TOLLBOOTH_AUTH_KEYS).
    const demo = loadConfig({ file: 'config/demo.yaml', env: withDemoKey({}).env });
    expect(demo.replicas).toHaveLength(3);
    expect(demo.auth.keys.map((key) => key.id)).toEqual(['demo']);
  });
});
