import { describe, expect, it } from 'vitest';
import { adminSurfaceWarnings, metricsOnApiPort } from '../../../src/admin/surface.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { problemsOf } from '../../helpers/config-problems.js';

const REPLICAS = [{ url: 'http://127.0.0.1:8000', models: ['m'] }];

function configWith(input: Partial<TollboothConfigInput>) {
  return parseConfig({ replicas: REPLICAS, auth: { enabled: false }, ...input });
}

describe('admin configuration', () => {
  it('defaults to an enabled listener on 127.0.0.1:8081, apart from the API on 0.0.0.0:8080', () => {
    const config = configWith({});
    expect(config.admin).toEqual({ enabled: true, host: '127.0.0.1', port: 8081 });
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8080 });
  });

  it('refuses an admin listener on the API port', () => {
    expect(problemsOf(() => configWith({ admin: { port: 8080 } }))).toEqual(['admin.port: the admin listener cannot share the API port 8080: choose another port']);
    expect(problemsOf(() => configWith({ server: { port: 9000 }, admin: { port: 9000, host: '10.0.0.1' } }))).toEqual([
      'admin.port: the admin listener cannot share the API port 9000: choose another port',
    ]);
  });

  it('accepts port 0 for both (two free ports) and the API port for a disabled admin listener', () => {
    expect(configWith({ server: { port: 0 }, admin: { port: 0 } }).admin.port).toBe(0);
    expect(configWith({ admin: { enabled: false, port: 8080 } }).admin.enabled).toBe(false);
  });

  it('rejects unknown admin fields and out-of-range ports', () => {
    expect(problemsOf(() => configWith({ admin: { port: 70000 } }))).toEqual([expect.stringMatching(/^admin\.port: /)]);
    expect(problemsOf(() => configWith({ admin: { bind: 'x' } as never }))).toEqual([expect.stringMatching(/^admin: .*bind/)]);
  });

  it('takes TOLLBOOTH_ADMIN_HOST and TOLLBOOTH_ADMIN_PORT over the file, and validates them the same way', () => {
    const env = { TOLLBOOTH_REPLICAS: 'http://127.0.0.1:8000=m', TOLLBOOTH_AUTH_ENABLED: 'false' };
    expect(loadConfig({ env: { ...env, TOLLBOOTH_ADMIN_HOST: '0.0.0.0', TOLLBOOTH_ADMIN_PORT: '9102' } }).admin).toEqual({ enabled: true, host: '0.0.0.0', port: 9102 });
    expect(problemsOf(() => loadConfig({ env: { ...env, TOLLBOOTH_ADMIN_PORT: 'admin' } }))).toEqual(['TOLLBOOTH_ADMIN_PORT: expected an integer, got "admin"']);
    expect(problemsOf(() => loadConfig({ env: { ...env, TOLLBOOTH_PORT: '8200', TOLLBOOTH_ADMIN_PORT: '8200' } }))).toEqual([
      'admin.port: the admin listener cannot share the API port 8200: choose another port',
    ]);
  });
});

describe('where the metrics are served', () => {
  const credentials = { bearerToken: 'scrape-token-0123456789' };

  it('serves them on the API port only with credentials', () => {
    expect(metricsOnApiPort(configWith({}))).toBe(false);
    expect(metricsOnApiPort(configWith({ metrics: credentials }))).toBe(true);
    expect(metricsOnApiPort(configWith({ metrics: { basicAuth: { username: 'prometheus', password: 'scrape-me-please' } } }))).toBe(true);
    expect(metricsOnApiPort(configWith({ metrics: { ...credentials, enabled: false } }))).toBe(false);
  });

  it('warns when the metrics are collected but served nowhere', () => {
    expect(adminSurfaceWarnings(configWith({}))).toEqual([]);
    expect(adminSurfaceWarnings(configWith({ admin: { enabled: false }, metrics: credentials }))).toEqual([]);
    expect(adminSurfaceWarnings(configWith({ admin: { enabled: false }, metrics: { enabled: false } }))).toEqual([]);
    expect(adminSurfaceWarnings(configWith({ admin: { enabled: false } }))).toEqual([expect.stringMatching(/served nowhere/)]);
  });
});
