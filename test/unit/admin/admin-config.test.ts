import { describe, expect, it } from 'vitest';
import { adminSurfaceWarnings, metricsOnApiPort } from '../../../src/admin/surface.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { createCertificateAuthority } from '../../helpers/certificates.js';
import { problemsOf } from '../../helpers/config-problems.js';

const REPLICAS = [{ url: 'http://127.0.0.1:8000', models: ['m'] }];

function configWith(input: Partial<TollboothConfigInput>) {
  return parseConfig({ replicas: REPLICAS, auth: { enabled: false }, ...input });
}

describe('admin configuration', () => {
  it('defaults to an enabled listener on 127.0.0.1:8081, apart from the API on 0.0.0.0:8080', () => {
    const config = configWith({});
    expect(config.admin).toEqual({ enabled: true, host: '127.0.0.1', port: 8081, tokens: [] });
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

  it('takes admin tokens from the file or TOLLBOOTH_ADMIN_TOKENS, refusing short, repeated or unnamed ones', () => {
    const token = 't'.repeat(32);
    expect(configWith({ admin: { tokens: [{ id: 'ops', token }] } }).admin.tokens).toEqual([{ id: 'ops', token }]);
    const env = { TOLLBOOTH_REPLICAS: 'http://127.0.0.1:8000=m', TOLLBOOTH_AUTH_ENABLED: 'false' };
    expect(loadConfig({ env: { ...env, TOLLBOOTH_ADMIN_TOKENS: JSON.stringify([{ id: 'ci', token }]) } }).admin.tokens).toEqual([{ id: 'ci', token }]);
    expect(
      problemsOf(() =>
        configWith({
          admin: {
            tokens: [
              { id: 'ops', token: 'short' },
              { id: 'ops', token },
              { id: 'sre', token },
              { token } as never,
            ],
          },
        }),
      ),
    ).toEqual([
      expect.stringMatching(/^admin\.tokens\.0\.token: use at least 32 characters/),
      expect.stringMatching(/^admin\.tokens\.3\.id: /),
    ]);
    expect(problemsOf(() => configWith({ admin: { tokens: [{ id: 'ops', token }, { id: 'ops', token: 'u'.repeat(32) }, { id: 'sre', token }] } }))).toEqual([
      'admin.tokens.1.id: the id "ops" is used by more than one admin token',
      'admin.tokens.2.token: the same token is given twice',
    ]);
  });

  it('takes TOLLBOOTH_ADMIN_HOST and TOLLBOOTH_ADMIN_PORT over the file, and validates them the same way', () => {
    const env = { TOLLBOOTH_REPLICAS: 'http://127.0.0.1:8000=m', TOLLBOOTH_AUTH_ENABLED: 'false' };
    expect(loadConfig({ env: { ...env, TOLLBOOTH_ADMIN_HOST: '0.0.0.0', TOLLBOOTH_ADMIN_PORT: '9102' } }).admin).toEqual({ enabled: true, host: '0.0.0.0', port: 9102, tokens: [] });
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

  it('warns when admin tokens are set for an admin API that is served nowhere', () => {
    const tokens = [{ id: 'ops', token: 'x'.repeat(32) }];
    expect(adminSurfaceWarnings(configWith({ admin: { tokens } }))).toEqual([]);
    expect(adminSurfaceWarnings(configWith({ admin: { enabled: false, tokens }, metrics: credentials }))).toEqual([expect.stringMatching(/admin API .* served nowhere/)]);
  });

  it('warns when admin.tls is set for an admin listener that is off', () => {
    const authority = createCertificateAuthority('surface');
    const tls = authority.server('admin');
    expect(adminSurfaceWarnings(configWith({ admin: { tls } }))).toEqual([]);
    expect(adminSurfaceWarnings(configWith({ admin: { enabled: false, tls }, metrics: credentials }))).toEqual([
      'admin.tls is set but admin.enabled is false: the admin listener it secures does not exist.',
    ]);
  });
});
